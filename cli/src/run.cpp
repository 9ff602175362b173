#include "run.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <exception>

#include "berth/common/log.hpp"
#include "app.hpp"
#include "runner.hpp"

namespace berth::cli {
namespace {

constexpr std::uint16_t kDefaultMasterPort = 5050;

// The user tasks run as on the agent: whoever runs this CLI, as mesos-execute does.
std::string current_user() {
  if (const passwd* entry = ::getpwuid(::geteuid()); entry && entry->pw_name) return entry->pw_name;
  return "root";
}

std::string current_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return {};
  return name;
}

asio::awaitable<void> forward_signals(asio::signal_set& signals, Runner& runner) {
  for (;;) {
    auto [error, signo] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
    runner.interrupt(signo);
  }
}

}  // namespace

int run(const RunOptions& options) {
  Console console(STDOUT_FILENO, STDERR_FILENO, options.quiet);
  auto master = http::parse_endpoint(options.master, kDefaultMasterPort);
  if (!master) {
    console.notice(fmt::format("--master '{}': {}", options.master, master.error().what()));
    return kExitUsage;
  }
  // A reader of our stdout going away must not kill us before the task is torn down.
  ::signal(SIGPIPE, SIG_IGN);

  asio::io_context io;
  FrameworkSpec framework{.user = current_user(),
                          .name = options.framework_name,
                          .hostname = current_hostname(),
                          .role = options.role,
                          .failover_timeout_s = options.failover_timeout_s,
                          .id = std::nullopt};
  Runner runner(io.get_executor(), RunnerSetup{options, *master, std::move(framework), console});
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::co_spawn(io, forward_signals(signals, runner), asio::detached);

  int exit_code = 1;
  asio::co_spawn(io, runner.run(), [&](std::exception_ptr error, int code) {
    exit_code = error ? 1 : code;
    io.stop();
  });
  try {
    io.run();
  } catch (const std::exception& e) {
    console.notice(fmt::format("internal error: {}", e.what()));
    return 1;
  }
  return exit_code;
}

}  // namespace berth::cli
