// How fast each ExitWatcher backend learns of exits, with N short-lived
// children exiting at once (no root needed):
//   ExitWatch/<backend>/N   N children block on a pipe; closing it lets them
//                           all exit together. Each child stamps
//                           CLOCK_MONOTONIC just before _exit; the loop stamps
//                           when its coroutine resumes.
// Counters: lat_p50_us / lat_p99_us = exit stamp to coroutine resumed;
// cpu_per_exit_us = the loop thread's CPU time (CLOCK_THREAD_CPUTIME_ID) from
// the release to the last exit seen, divided by N (waits already submitted;
// reaping excluded). Manual time = release to last exit seen.
// Run: build/bench/berth_exit_watch_bench [--benchmark_repetitions=3]

#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "berth/common/fd.hpp"
#include "berth/launcher/exit_watcher.hpp"

namespace asio = boost::asio;
using berth::UniqueFd;
using berth::launcher::ExitWatchBackend;
using berth::launcher::ExitWatcher;

namespace {

std::int64_t now_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Exit stamps written by the children, readable by the parent.
class SharedStamps {
 public:
  explicit SharedStamps(std::size_t n)
      : size_(n * sizeof(std::int64_t)),
        stamps_(static_cast<std::int64_t*>(
            ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {}
  ~SharedStamps() { ::munmap(stamps_, size_); }
  std::int64_t& operator[](std::size_t i) { return stamps_[i]; }

 private:
  std::size_t size_;
  std::int64_t* stamps_;
};

struct Children {
  std::vector<pid_t> pids;
  std::vector<UniqueFd> pidfds;
  UniqueFd release;  // closing it lets every child exit
};

Children fork_blocked(std::size_t n, SharedStamps& stamps) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  Children children;
  for (std::size_t i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[1]);
      char byte;
      (void)!::read(fds[0], &byte, 1);
      stamps[i] = now_ns(CLOCK_MONOTONIC);
      ::_exit(0);
    }
    children.pids.push_back(pid);
    children.pidfds.emplace_back(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  }
  ::close(fds[0]);
  children.release.reset(fds[1]);
  return children;
}

void reap_all(const Children& children) {
  for (const auto& pidfd : children.pidfds) {
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED);
  }
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

void ExitWatch(benchmark::State& state, ExitWatchBackend backend) {
  const auto n = static_cast<std::size_t>(state.range(0));
  asio::io_context context;
  auto watcher = ExitWatcher::create(context.get_executor(), backend);
  if (!watcher) {
    state.SkipWithError(watcher.error().what().c_str());
    return;
  }
  SharedStamps exited(n);
  std::vector<std::int64_t> seen(n);
  std::vector<double> latencies_us;
  double cpu_ns = 0;
  std::size_t failures = 0;
  for (auto _ : state) {
    Children children = fork_blocked(n, exited);
    for (std::size_t i = 0; i < n; ++i) {
      asio::co_spawn(context, (*watcher)->wait_exit(children.pidfds[i].get()),
                     [&, i](std::exception_ptr, berth::Result<void> result) {
                       seen[i] = now_ns(CLOCK_MONOTONIC);
                       if (!result) ++failures;
                     });
    }
    context.restart();
    context.poll();  // every wait started and submitted
    const auto wall0 = now_ns(CLOCK_MONOTONIC);
    const auto cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    children.release.reset();
    context.run();
    cpu_ns += static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0);
    state.SetIterationTime(static_cast<double>(now_ns(CLOCK_MONOTONIC) - wall0) / 1e9);
    for (std::size_t i = 0; i < n; ++i) latencies_us.push_back(static_cast<double>(seen[i] - exited[i]) / 1e3);
    reap_all(children);
  }
  if (failures) state.SkipWithError("a wait failed");
  const double exits = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.counters["lat_p50_us"] = percentile(latencies_us, 0.50);
  state.counters["lat_p99_us"] = percentile(latencies_us, 0.99);
  state.counters["cpu_per_exit_us"] = cpu_ns / exits / 1e3;
  state.SetItemsProcessed(static_cast<std::int64_t>(exits));
}

void register_all() {
  for (auto backend : ExitWatcher::available_backends()) {
    std::string name = "ExitWatch/" + std::string(berth::launcher::to_string(backend));
    for (std::int64_t n : {1, 16, 256}) {
      benchmark::RegisterBenchmark(name.c_str(), ExitWatch, backend)
          ->Arg(n)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->Iterations(std::max<std::int64_t>(20, 4000 / n));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
