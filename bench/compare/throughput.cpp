#include "throughput.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>

#include "berth/launcher/exit_watcher.hpp"
#include "berth/launcher/launcher.hpp"

namespace berth::bench {
namespace fs = std::filesystem;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Shared {
  const launcher::oci::Spec& spec;
  const fs::path& cgroup_parent;
  launcher::ExitWatcher& watcher;
  launcher::NetworkNamespacePool* pool;
  Clock::time_point deadline;
  std::size_t launches = 0;
  std::optional<Error> error;
};

// One slot: launch, await the exit, clean up, again, until the deadline.
asio::awaitable<void> slot(Shared& shared, fs::path runtime_dir, int index) {
  launcher::LinuxLauncher launcher;
  for (int round = 0; Clock::now() < shared.deadline && !shared.error; ++round) {
    auto cgroup = shared.cgroup_parent / ("tp-" + std::to_string(index) + "-" + std::to_string(round));
    if (::mkdir(cgroup.c_str(), 0755) != 0) {
      shared.error = Error::sys("mkdir", errno, cgroup);
      co_return;
    }
    UniqueFd cgroup_fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    launcher::LaunchRequest request;
    request.container_id = cgroup.filename();
    request.spec = shared.spec;
    request.stdout_path = "/dev/null";
    request.stderr_path = "/dev/null";
    request.runtime_dir = runtime_dir;
    request.cgroup_fd = cgroup_fd.get();
    UniqueFd network;
    if (shared.pool != nullptr) network = shared.pool->take();
    for (auto& ns : request.spec.linux_config.namespaces) {
      if (network && ns.type == CLONE_NEWNET) ns.path = launcher::NetworkNamespacePool::path_of(network);
    }
    auto launched = launcher.launch(request);
    if (!launched) {
      shared.error = launched.error();
      ::rmdir(cgroup.c_str());
      co_return;
    }
    auto exited = co_await shared.watcher.wait_exit(launched->pidfd.get());
    auto status = launcher::reap(launched->pidfd.get());
    cgroup_fd.reset();
    ::rmdir(cgroup.c_str());
    if (!exited || !status || status->signaled || status->code != 0) {
      shared.error = Error("a throughput task did not exit 0");
      co_return;
    }
    ++shared.launches;
  }
}

}  // namespace

Result<ThroughputResult> measure_throughput(const launcher::oci::Spec& spec, const fs::path& cgroup_parent,
                                            const fs::path& scratch, const ThroughputOptions& options,
                                            launcher::NetworkNamespacePool* pool) {
  asio::io_context context;
  BERTH_TRY(auto watcher, launcher::ExitWatcher::create(context.get_executor()));
  auto start = Clock::now();
  Shared shared{spec, cgroup_parent, *watcher, pool,
                start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds)), 0,
                std::nullopt};
  auto loop_cpu = cpu_seconds(RUSAGE_SELF);
  auto children_cpu = cpu_seconds(RUSAGE_CHILDREN);
  for (int i = 0; i < options.concurrency; ++i) {
    auto dir = scratch / ("slot-" + std::to_string(i));
    fs::create_directories(dir);
    asio::co_spawn(context, slot(shared, dir, i), asio::detached);
  }
  context.run();
  ThroughputResult result;
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  result.loop_cpu_s = cpu_seconds(RUSAGE_SELF) - loop_cpu;
  result.children_cpu_s = cpu_seconds(RUSAGE_CHILDREN) - children_cpu;
  result.launches = shared.launches;
  result.exit_backend = std::string(launcher::to_string(watcher->backend()));
  if (shared.error) return fail(*shared.error);
  return result;
}

double measure_spawn_throughput(const ThroughputOptions& options) {
  char program[] = "/bin/busybox";
  char applet[] = "true";
  char* argv[] = {program, applet, nullptr};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  std::size_t done = 0;
  int running = 0;
  while (true) {
    while (running < options.concurrency && Clock::now() < deadline) {
      pid_t pid;
      if (::posix_spawn(&pid, program, nullptr, nullptr, argv, environ) == 0) ++running;
    }
    if (running == 0) break;
    int status;
    if (::wait(&status) > 0) {
      --running;
      ++done;
    }
  }
  return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace berth::bench
