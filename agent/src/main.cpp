// berth-agent: runs tasks in containers on one node.

#include <boost/asio.hpp>

#include "berth/agent/agent.hpp"
#include "berth/common/flags.hpp"
#include "berth/common/log.hpp"
#include "berth/common/service.hpp"

int main(int argc, char** argv) {
  berth::agent::Flags flags;
  CLI::App app{"berth-agent: runs tasks in containers on this node for a berth-master"};
  app.set_version_flag("--version", BERTH_VERSION);
  berth::agent::add_flags(app, flags);
  if (auto code = berth::flags::parse(app, argc, argv)) return *code;
  berth::log::init("berth-agent", flags.log_level);

  boost::asio::io_context io;
  berth::agent::Agent agent(io.get_executor(), flags);
  if (auto started = agent.start(); !started) {
    berth::log::error("Failed to start: {}", started.error().what());
    return 1;
  }
  auto watchdog = berth::service::Watchdog::start(io.get_executor());
  berth::service::ready("Running tasks");
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    berth::log::info("Received signal {}; exiting (containers keep running)", signal);
    berth::service::stopping();
    if (watchdog) watchdog->stop();
    agent.stop();
  });
  io.run();
  berth::log::info("Stopped");
  return 0;
}
