// Launch-to-exit latency of one short task, three ways, measured side by side:
//   BerthLaunch    LinuxLauncher: clone3 into a fresh cgroup v2 cgroup with new
//                  pid, mount, uts and ipc namespaces, container init, execve,
//                  exit status recorded by init; then reaped and the cgroup removed.
//   Unshare        util-linux unshare(1) creating the same four namespaces
//                  (no cgroup): the tool a shell user would reach for.
//   PosixSpawn     posix_spawn + waitpid with no isolation: the floor.
// Run as root:  build/bench/berth_launch_bench [--benchmark_repetitions=5]
// Cgroups go under BERTH_BENCH_CGROUP_ROOT (default /sys/fs/cgroup/unified, the
// cgroup2 mount of a hybrid host; use /sys/fs/cgroup on a unified host).

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "berth/launcher/launcher.hpp"

namespace fs = std::filesystem;
extern char** environ;

namespace {

constexpr const char* kTask = "/bin/true";

fs::path cgroup_root() {
  const char* root = std::getenv("BERTH_BENCH_CGROUP_ROOT");
  return root ? root : "/sys/fs/cgroup/unified";
}

// A scratch directory and a parent cgroup for the whole run, removed at the end.
class Scratch {
 public:
  Scratch()
      : dir_(fs::temp_directory_path() / ("berth-bench-" + std::to_string(::getpid()))),
        cgroup_(cgroup_root() / ("berth-bench-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    fs::create_directories(cgroup_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ::rmdir(cgroup_.c_str());
  }
  const fs::path& dir() const { return dir_; }
  const fs::path& cgroup() const { return cgroup_; }

 private:
  fs::path dir_;
  fs::path cgroup_;
};

bool spawn_and_wait(const std::vector<const char*>& argv) {
  pid_t pid;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv.data()), environ) != 0) return false;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The host's root, a fresh /proc, new pid, mount, uts and ipc namespaces.
berth::launcher::oci::Spec task_spec(const std::string& id, const fs::path& cwd) {
  berth::launcher::oci::Spec spec;
  spec.process.args = {kTask};
  spec.process.env = {"PATH=/usr/bin:/bin"};
  spec.process.cwd = cwd.string();
  for (int type : {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC}) spec.linux_config.namespaces.push_back({type, {}});
  spec.hostname = id;
  spec.mounts.push_back({"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}});
  return spec;
}

void BerthLaunch(benchmark::State& state) {
  if (::geteuid() != 0) {
    state.SkipWithError("needs root: namespaces and cgroups");
    return;
  }
  Scratch scratch;
  berth::launcher::LinuxLauncher launcher;
  std::size_t n = 0;
  for (auto _ : state) {
    const std::string id = "c" + std::to_string(n++);
    const fs::path runtime = scratch.dir() / id;
    const fs::path cgroup = scratch.cgroup() / id;
    fs::create_directory(runtime);
    if (::mkdir(cgroup.c_str(), 0755) != 0) {
      state.SkipWithError(("mkdir " + cgroup.string()).c_str());
      return;
    }
    berth::UniqueFd cgroup_fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    berth::launcher::LaunchRequest request;
    request.container_id = id;
    request.spec = task_spec(id, runtime);
    request.stdout_path = runtime / "stdout";
    request.stderr_path = runtime / "stderr";
    request.runtime_dir = runtime;
    request.cgroup_fd = cgroup_fd.get();
    auto launched = launcher.launch(request);
    if (!launched) {
      state.SkipWithError(launched.error().what().c_str());
      return;
    }
    auto status = berth::launcher::reap(launched->pidfd.get());
    if (!status || status->signaled || status->code != 0) {
      state.SkipWithError("the task did not exit 0");
      return;
    }
    cgroup_fd = berth::UniqueFd();
    ::rmdir(cgroup.c_str());
    state.PauseTiming();
    fs::remove_all(runtime);
    state.ResumeTiming();
  }
  state.counters["launches_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}

void Unshare(benchmark::State& state) {
  if (::geteuid() != 0) {
    state.SkipWithError("needs root: namespaces");
    return;
  }
  const char* unshare = fs::exists("/usr/bin/unshare") ? "/usr/bin/unshare" : "/bin/unshare";
  std::vector<const char*> argv{unshare, "--fork", "--pid", "--mount-proc", "--uts", "--ipc", kTask, nullptr};
  for (auto _ : state) {
    if (!spawn_and_wait(argv)) {
      state.SkipWithError("unshare failed");
      return;
    }
  }
  state.counters["launches_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void PosixSpawn(benchmark::State& state) {
  std::vector<const char*> argv{kTask, nullptr};
  for (auto _ : state) {
    if (!spawn_and_wait(argv)) {
      state.SkipWithError("posix_spawn failed");
      return;
    }
  }
  state.counters["launches_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BerthLaunch)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(Unshare)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(PosixSpawn)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_MAIN();
