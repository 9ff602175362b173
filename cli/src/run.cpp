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
#include <mutex>

#include "berth/common/leader_watch.hpp"
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

// The leading master as the ZooKeeper watch's thread last saw it.
class LeaderCache {
 public:
  void set(const std::optional<v1::MasterInfo>& info) {
    std::optional<http::Endpoint> endpoint;
    if (info) {
      if (auto parsed = http::parse_endpoint(master_endpoint(*info), kDefaultMasterPort)) endpoint = *parsed;
    }
    std::lock_guard lock(mutex_);
    endpoint_ = std::move(endpoint);
  }
  std::optional<http::Endpoint> get() const {
    std::lock_guard lock(mutex_);
    return endpoint_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<http::Endpoint> endpoint_;
};

}  // namespace

int run(const RunOptions& options) {
  Console console(STDOUT_FILENO, STDERR_FILENO, options.quiet);
  // With zk://, ZooKeeper names the leading master, now and after a failover.
  std::unique_ptr<LeaderWatch> leader_watch;
  auto leader = std::make_shared<LeaderCache>();
  Result<http::Endpoint> master = http::Endpoint{};
  if (is_zookeeper_url(options.master)) {
    auto url = parse_zookeeper_url(options.master);
    if (!url) {
      console.notice(fmt::format("--master: {}", url.error().what()));
      return kExitUsage;
    }
    leader_watch = LeaderWatch::start({.url = *url, .contend = std::nullopt, .on_change = [leader](const auto& info) {
                                         leader->set(info);
                                       }});
  } else {
    master = http::parse_endpoint(options.master, kDefaultMasterPort);
  }
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
  MasterClient::LeaderLookup lookup;
  if (leader_watch) lookup = [leader] { return leader->get(); };
  Runner runner(io.get_executor(), RunnerSetup{options, *master, std::move(framework), console, std::move(lookup)});
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
