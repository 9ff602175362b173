// berth-master: the cluster's thin coordinator.

#include <boost/asio.hpp>

#include "berth/common/flags.hpp"
#include "berth/common/log.hpp"
#include "berth/common/service.hpp"
#include "berth/master/master.hpp"

int main(int argc, char** argv) {
  berth::master::Flags flags;
  CLI::App app{"berth-master: offers agents' resources to frameworks and relays their tasks"};
  app.set_version_flag("--version", BERTH_VERSION);
  berth::master::add_flags(app, flags);
  if (auto code = berth::flags::parse(app, argc, argv)) return *code;
  berth::log::init("berth-master", flags.log_level);

  boost::asio::io_context io;
  berth::master::Master master(io.get_executor(), flags);
  if (auto started = master.start(); !started) {
    berth::log::error("Failed to start: {}", started.error().what());
    return 1;
  }
  auto watchdog = berth::service::Watchdog::start(io.get_executor());
  berth::service::ready("Serving");
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    berth::log::info("Received signal {}; shutting down", signal);
    berth::service::stopping();
    if (watchdog) watchdog->stop();
    master.stop();
  });
  io.run();
  berth::log::info("Stopped");
  return master.exit_code();
}
