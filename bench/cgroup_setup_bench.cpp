// A container's cgroup set-up (mkdir + limit writes) through CgroupBatchWriter,
// io_uring chain against plain syscalls, side by side:
//   CgroupSetup/<backend>/<writes>   mkdir of a fresh cgroup, then <writes>
//                                    open+write+close of limit files.
// Only files that exist in a fresh child cgroup here are written (on a hybrid
// host: the core cgroup.* files; where controllers are enabled, their files
// would qualify too), cycled to reach <writes>. Time = apply() alone (manual
// time); the rmdir after it is not timed. cpu_us = process CPU per set-up
// (CLOCK_PROCESS_CPUTIME_ID: includes io_uring's io-wq worker threads).
// Run as root:  build/bench/berth_cgroup_setup_bench [--benchmark_repetitions=3]
// Cgroups go under BERTH_BENCH_CGROUP_ROOT (default /sys/fs/cgroup/unified)
// in berth-bench-<pid>, removed at the end.

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "berth/isolators/cgroup_batch.hpp"
#include "berth/isolators/cgroupfs.hpp"

namespace fs = std::filesystem;
using berth::isolators::CgroupBatchBackend;
using berth::isolators::CgroupBatchWriter;
using berth::isolators::CgroupFileWrite;
using berth::isolators::CgroupSetup;

namespace {

fs::path parent_cgroup() {
  const char* root = std::getenv("BERTH_BENCH_CGROUP_ROOT");
  return fs::path(root ? root : "/sys/fs/cgroup/unified") / ("berth-bench-" + std::to_string(::getpid()));
}

std::int64_t now_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Limit files a container would get, with values that leave it unrestricted
// enough; kept if present in a fresh child of `parent`.
std::vector<CgroupFileWrite> writable_files(const fs::path& parent) {
  const std::vector<CgroupFileWrite> candidates = {
      {"cpu.weight", "100"},   {"memory.max", "1073741824"}, {"pids.max", "1000"},
      {"cgroup.max.descendants", "10"}, {"cgroup.max.depth", "3"}, {"cgroup.freeze", "0"},
      {"cgroup.pressure", "1"},
  };
  fs::path probe = parent / "probe";
  std::vector<CgroupFileWrite> found;
  if (::mkdir(probe.c_str(), 0755) != 0) return found;
  for (const auto& write : candidates) {
    if (berth::isolators::cgroupfs::write_file(probe / write.file, write.value)) found.push_back(write);
  }
  ::rmdir(probe.c_str());
  return found;
}

class Parent {
 public:
  Parent() : path_(parent_cgroup()) { ok_ = ::geteuid() == 0 && ::mkdir(path_.c_str(), 0755) == 0; }
  ~Parent() {
    if (ok_) (void)berth::isolators::cgroupfs::remove_tree(path_);
  }
  bool ok() const { return ok_; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool ok_ = false;
};

Parent* parent = nullptr;
std::vector<CgroupFileWrite> files;

void CgroupSetupBench(benchmark::State& state, CgroupBatchBackend backend) {
  auto writer = CgroupBatchWriter::create(backend);
  if (!writer) {
    state.SkipWithError(writer.error().what().c_str());
    return;
  }
  CgroupSetup setup;
  for (std::int64_t i = 0; i < state.range(0); ++i) setup.writes.push_back(files[static_cast<std::size_t>(i) % files.size()]);
  std::size_t n = 0;
  double cpu_ns = 0;
  for (auto _ : state) {
    setup.cgroup = parent->path() / ("c" + std::to_string(n++));
    const auto wall0 = now_ns(CLOCK_MONOTONIC);
    const auto cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    auto applied = (*writer)->apply(setup);
    cpu_ns += static_cast<double>(now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
    state.SetIterationTime(static_cast<double>(now_ns(CLOCK_MONOTONIC) - wall0) / 1e9);
    if (!applied) {
      state.SkipWithError(applied.error().what().c_str());
      break;
    }
    ::rmdir(setup.cgroup.c_str());
  }
  state.counters["cpu_us"] = cpu_ns / static_cast<double>(state.iterations()) / 1e3;
  state.counters["files"] = static_cast<double>(files.size());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Parent scratch;
  if (!scratch.ok()) {
    std::fprintf(stderr, "needs root and a cgroup2 directory: cannot create %s\n", scratch.path().c_str());
    return 1;
  }
  parent = &scratch;
  files = writable_files(scratch.path());
  if (files.empty()) {
    std::fprintf(stderr, "no writable limit file in a child of %s\n", scratch.path().c_str());
    return 1;
  }
  std::fprintf(stderr, "writing:");
  for (const auto& file : files) std::fprintf(stderr, " %s", file.file.c_str());
  std::fprintf(stderr, "\n");
  std::vector<CgroupBatchBackend> backends{CgroupBatchBackend::syscalls};
  if (CgroupBatchWriter::io_uring_available()) backends.push_back(CgroupBatchBackend::io_uring);
  for (auto backend : backends) {
    std::string name = "CgroupSetup/" + std::string(berth::isolators::to_string(backend));
    benchmark::RegisterBenchmark(name.c_str(), CgroupSetupBench, backend)
        ->Arg(0)
        ->Arg(4)
        ->Arg(16)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
