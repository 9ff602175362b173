// Statistics of many containers: the CPU one full sample of N container
// cgroups costs this process (CLOCK_PROCESS_CPUTIME_ID, which includes any
// io_uring io-wq worker), by how the stat files are read:
//   Stats/io_uring            StatsSampler, files kept open, batched io_uring READs
//   Stats/pread               StatsSampler, files kept open, one pread(2) each
//   Stats/<backend>/no_psi    the same without the three *.pressure files
//   Stats/automatic           StatsSampler's default: both backends on the
//                             first samples, then the cheaper (kept_io_uring)
//   Stats/reopen              CgroupsIsolator::statistics per container: open,
//                             read, close of every file, every time
// Counters: cpu_ms = process CPU per sample of all N (the target: <= 10 ms for
// 1,000), of which sys_ms in the kernel (getrusage), files = stat files per
// container, kmem_kb = kernel memory the open
// files hold per container (Slab growth from adding them and a first sample;
// noisy), threads = this process's threads after sampling (io-wq workers
// would show here). Time (manual) = wall time per sample.
//
// Run as root:  build/bench/berth_cgroup_stats_bench [--benchmark_repetitions=3]
// BERTH_BENCH_CONTAINERS (default 1000) empty container cgroups are made in
// berth-stats-bench-<pid> under BERTH_BENCH_CGROUP_ROOT (default: the cgroup2
// mount, /sys/fs/cgroup/unified on a hybrid host), with every controller the
// kernel offers, and removed at the end, also on SIGINT/SIGTERM.

#include <benchmark/benchmark.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/cgroups2/stats_sampler.hpp"

namespace fs = std::filesystem;
namespace cg2 = berth::isolators::cgroups2;
using berth::isolators::CgroupsIsolator;

namespace {

std::int64_t now_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

fs::path cgroup2_mount() {
  if (const char* root = std::getenv("BERTH_BENCH_CGROUP_ROOT")) return root;
  for (const char* mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (berth::isolators::cgroupfs::check_cgroup2(mount)) return mount;
  }
  return "/sys/fs/cgroup";
}

std::size_t container_count() {
  const char* count = std::getenv("BERTH_BENCH_CONTAINERS");
  return count ? std::strtoul(count, nullptr, 10) : 1000;
}

// Slab (kB) from /proc/meminfo: where seq_file buffers and struct files live.
long slab_kb() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long value = 0;
  std::string unit;
  while (meminfo >> key >> value) {
    if (key == "Slab:") return value;
    std::getline(meminfo, unit);
  }
  return 0;
}

long thread_count() {
  long count = 0;
  if (DIR* tasks = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(tasks)) count += entry->d_name[0] != '.';
    ::closedir(tasks);
  }
  return count;
}

// The container cgroups, removed at the end; the paths are also kept as C
// strings for the signal handler (rmdir is async-signal-safe; they hold no
// process, so rmdir is all it takes).
class Containers {
 public:
  bool set_up(std::size_t count) {
    root_ = cgroup2_mount() / ("berth-stats-bench-" + std::to_string(::getpid()));
    auto isolator = CgroupsIsolator::create(root_);
    if (!isolator) return report(isolator.error().what());
    isolator_ = std::move(*isolator);
    paths_.push_back(root_.string());
    for (std::size_t i = 0; i < count; ++i) {
      std::string id = "c" + std::to_string(i);
      paths_.push_back(isolator_->cgroup_path(id).string());
      auto prepared = isolator_->prepare({.container_id = id, .limits = {}});
      if (!prepared) return report(prepared.error().what());
      ids_.push_back(id);
    }
    return true;
  }
  ~Containers() { tear_down(); }
  void tear_down() {
    if (!root_.empty()) (void)berth::isolators::cgroupfs::destroy(root_);
  }
  // For the signal handler: children first, then the root.
  void remove_all_now() const {
    for (auto path = paths_.rbegin(); path != paths_.rend(); ++path) ::rmdir(path->c_str());
  }
  const CgroupsIsolator& isolator() const { return *isolator_; }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  static bool report(const std::string& what) {
    std::fprintf(stderr, "set-up failed: %s\n", what.c_str());
    return false;
  }
  fs::path root_;
  std::unique_ptr<CgroupsIsolator> isolator_;
  std::vector<std::string> paths_;
  std::vector<std::string> ids_;
};

Containers* containers = nullptr;

void on_signal(int signal) {
  if (containers != nullptr) containers->remove_all_now();
  ::_exit(128 + signal);
}

// Each container keeps up to 11 files open: raise the soft limit to fit.
void raise_nofile(std::size_t needed) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= needed) return;
  rlimit wanted{needed, std::max<rlim_t>(limit.rlim_max, needed)};
  // Raising the hard limit needs CAP_SYS_RESOURCE (the VM has it, the build host not).
  if (::setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

struct Sampled {
  double cpu_ns = 0;
  double sys_ns = 0;
  double wall_ns = 0;
};

double system_ns() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_stime.tv_sec) * 1e9 + static_cast<double>(usage.ru_stime.tv_usec) * 1e3;
}

template <typename Sample>
Sampled run(benchmark::State& state, Sample&& sample) {
  Sampled total;
  const double sys0 = system_ns();
  for (auto _ : state) {
    const auto wall0 = now_ns(CLOCK_MONOTONIC);
    const auto cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    if (!sample()) break;
    total.cpu_ns += static_cast<double>(now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
    const auto wall = static_cast<double>(now_ns(CLOCK_MONOTONIC) - wall0);
    total.wall_ns += wall;
    state.SetIterationTime(wall / 1e9);
  }
  total.sys_ns = system_ns() - sys0;
  return total;
}

void SamplerBench(benchmark::State& state, cg2::SamplerBackend backend, cg2::PressureFiles pressure) {
  const auto& ids = containers->ids();
  const long slab_before = slab_kb();
  auto created = cg2::StatsSampler::create(
      {.enabled = containers->isolator().enabled_controllers(), .pressure = pressure, .backend = backend});
  if (!created) return state.SkipWithError(created.error().what().c_str());
  auto& sampler = **created;
  raise_nofile(ids.size() * sampler.files_per_container() + 64);
  for (const auto& id : ids) {
    auto added = sampler.add(id, containers->isolator().cgroup_path(id));
    if (!added) return state.SkipWithError(added.error().what().c_str());
  }
  (void)sampler.sample();  // the first read of each file allocates its seq_file buffer
  const long slab_after = slab_kb();
  std::string failure;
  auto total = run(state, [&] {
    for (const auto& sample : sampler.sample()) {
      if (!sample.status) failure = sample.status.error().what();
    }
    return failure.empty();
  });
  if (!failure.empty()) return state.SkipWithError(failure.c_str());
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["cpu_ms"] = total.cpu_ns / iterations / 1e6;
  state.counters["sys_ms"] = total.sys_ns / iterations / 1e6;
  state.counters["files"] = static_cast<double>(sampler.files_per_container());
  state.counters["kmem_kb"] = static_cast<double>(slab_after - slab_before) / static_cast<double>(ids.size());
  state.counters["threads"] = static_cast<double>(thread_count());
  if (backend == cg2::SamplerBackend::automatic) {
    state.counters["kept_io_uring"] = sampler.backend() == cg2::SamplerBackend::io_uring ? 1 : 0;
  }
}

void ReopenBench(benchmark::State& state) {
  const auto& ids = containers->ids();
  std::string failure;
  auto total = run(state, [&] {
    for (const auto& id : ids) {
      auto statistics = containers->isolator().statistics(id);
      if (!statistics) failure = statistics.error().what();
    }
    return failure.empty();
  });
  if (!failure.empty()) return state.SkipWithError(failure.c_str());
  state.counters["cpu_ms"] = total.cpu_ns / static_cast<double>(state.iterations()) / 1e6;
  state.counters["sys_ms"] = total.sys_ns / static_cast<double>(state.iterations()) / 1e6;
}

void register_benchmarks() {
  for (auto backend : {cg2::SamplerBackend::io_uring, cg2::SamplerBackend::pread}) {
    for (auto pressure : {cg2::PressureFiles::read, cg2::PressureFiles::skip}) {
      std::string name = "Stats/" + std::string(cg2::to_string(backend)) +
                         (pressure == cg2::PressureFiles::skip ? "/no_psi" : "");
      benchmark::RegisterBenchmark(name.c_str(), SamplerBench, backend, pressure)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark("Stats/automatic", SamplerBench, cg2::SamplerBackend::automatic,
                               cg2::PressureFiles::read)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Stats/reopen", ReopenBench)->UseManualTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "needs root: it makes container cgroups under the cgroup2 mount\n");
    return 1;
  }
  Containers made;
  containers = &made;
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  const std::size_t count = container_count();
  if (!made.set_up(count)) return 1;
  std::fprintf(stderr, "%zu container cgroups; controllers:", count);
  for (const auto& name : made.isolator().enabled_controllers()) std::fprintf(stderr, " %s", name.c_str());
  std::fprintf(stderr, "\n");
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  made.tear_down();
  containers = nullptr;
  return 0;
}
