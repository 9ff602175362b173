// berth_launch_compare: launch latency of Berth against runc and crun on one
// bundle, interleaved in one run, then sustained throughput. Needs root.
//
//   build/bench/berth_launch_compare [--iterations 500] [--no-network]
//       [--runtimes berth-library,berth-runtime,runc,crun] [--throughput-seconds 5]
//       [--concurrency 8]
//
// Every launcher runs the same bundle (bundle.hpp): busybox /bin/true with
// new pid, mount, uts, ipc (and network) namespaces, a cgroup, pivot_root
// into the rootfs and the mounts, masked and read-only paths of a runtime's
// default config. The run happens in a private mount namespace with cgroup2
// mounted over /sys/fs/cgroup, so that runc and crun see a pure cgroup v2
// host even on a hybrid one (whose v1 hierarchies they must not touch).

#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "bundle.hpp"
#include "runners.hpp"
#include "throughput.hpp"
#include "berth/isolators/security.hpp"
#include "berth/launcher/netns_pool.hpp"

namespace {

namespace fs = std::filesystem;
using namespace berth;
using namespace berth::bench;

struct Options {
  int iterations = 500;
  bool network = true;
  std::vector<std::string> runtimes = {"floor", "berth-library", "berth-library-pool", "berth-library-allcaps",
                                       "berth-library-seccomp", "berth-runtime", "runc", "crun"};
  double throughput_seconds = 5;
  int concurrency = 8;
  std::size_t pool_size = 16;
  fs::path bin_dir;
};

// What a run leaves to remove, however it ends (die() included).
struct {
  fs::path cgroup;
  fs::path scratch;
} cleanup_paths;

void clean_up() {
  std::error_code ignored;
  if (!cleanup_paths.scratch.empty()) {
    ::umount2((cleanup_paths.scratch / "state").c_str(), MNT_DETACH);
    fs::remove_all(cleanup_paths.scratch, ignored);
  }
  if (cleanup_paths.cgroup.empty()) return;
  for (const auto& entry : fs::directory_iterator(cleanup_paths.cgroup, ignored)) {
    if (entry.is_directory()) {
      std::ofstream(entry.path() / "cgroup.kill") << "1";
      ::rmdir(entry.path().c_str());
    }
  }
  ::rmdir(cleanup_paths.cgroup.c_str());
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "berth_launch_compare: %s\n", message.c_str());
  std::exit(1);
}

// A private mount namespace where /sys/fs/cgroup is the cgroup2 filesystem.
void enter_pure_cgroup2_view() {
  if (::unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS): " + std::string(std::strerror(errno)));
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("make / private");
  struct statfs info {};
  if (::statfs("/sys/fs/cgroup", &info) == 0 && info.f_type == CGROUP2_SUPER_MAGIC) return;
  if (::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, nullptr) != 0) {
    die("mount cgroup2 on /sys/fs/cgroup: " + std::string(std::strerror(errno)));
  }
}

std::string first_line(const std::vector<std::string>& argv) {
  std::string command;
  for (const auto& a : argv) command += "'" + a + "' ";
  FILE* pipe = ::popen((command + "2>&1").c_str(), "r");
  if (!pipe) return "?";
  char line[256] = {};
  if (!std::fgets(line, sizeof line, pipe)) line[0] = '\0';
  ::pclose(pipe);
  std::string text(line);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  }
  return "?";
}

void print_machine() {
  utsname u{};
  ::uname(&u);
  std::printf("machine: %s, %ld CPUs (%s), Linux %s\n", u.nodename, ::sysconf(_SC_NPROCESSORS_ONLN), cpu_model().c_str(),
              u.release);
}

struct Summary {
  double p50, p90, p99, mean;  // ms
};

Summary summarize(std::vector<std::uint64_t> ns) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return static_cast<double>(ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]) / 1e6; };
  double sum = 0;
  for (auto v : ns) sum += static_cast<double>(v);
  return {at(0.5), at(0.9), at(0.99), sum / static_cast<double>(ns.size()) / 1e6};
}

void print_breakdown(const LibraryRunner& library) {
  std::map<std::string, std::vector<std::uint64_t>> by_phase;
  std::vector<std::string> order;
  for (const auto& phases : library.phases()) {
    for (const auto& [name, ns] : phases) {
      if (!by_phase.contains(name)) order.push_back(name);
      by_phase[name].push_back(ns);
    }
  }
  std::printf("\n%s, median time per phase (us), in launch order:\n", library.name().c_str());
  double total = 0;
  for (const auto& name : order) {
    auto values = by_phase[name];
    std::sort(values.begin(), values.end());
    double median = static_cast<double>(values[values.size() / 2]) / 1e3;
    if (!name.starts_with("(")) total += median;
    std::printf("  %8.1f  %s\n", median, name.c_str());
  }
  std::printf("  %8.1f  sum of medians\n", total);
  auto median = [](std::vector<std::uint64_t> values) {
    std::sort(values.begin(), values.end());
    return static_cast<double>(values[values.size() / 2]) / 1e3;
  };
  std::printf("  then, untimed: init exits (namespaces torn down) %.1f us; reap + rmdir cgroup %.1f us\n",
              median(library.init_exits()), median(library.teardowns()));
}

void print_latencies(int iterations, const std::vector<std::unique_ptr<Runner>>& working,
                     std::map<std::string, std::vector<std::uint64_t>>& samples,
                     const std::vector<LibraryRunner*>& libraries) {
  std::printf("\n%d sequential launches each, interleaved; latency from request to exit observed (ms):\n",
              iterations);
  std::printf("  %-22s %8s %8s %8s %8s %12s\n", "launcher", "p50", "p90", "p99", "mean", "runc/this p50");
  std::optional<double> runc_p50;
  if (samples.contains("runc run")) runc_p50 = summarize(samples["runc run"]).p50;
  for (auto& runner : working) {
    auto s = summarize(samples[runner->name()]);
    std::string ratio = runc_p50 ? std::to_string(*runc_p50 / s.p50).substr(0, 5) + "x" : "-";
    std::printf("  %-22s %8.3f %8.3f %8.3f %8.3f %12s\n", runner->name().c_str(), s.p50, s.p90, s.p99, s.mean,
                ratio.c_str());
  }
  for (auto* library : libraries) print_breakdown(*library);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Launch latency of Berth against runc and crun on one bundle"};
  app.add_option("--iterations", options.iterations, "Launches per runtime")->capture_default_str();
  bool no_network = false;
  app.add_flag("--no-network", no_network, "No network namespace");
  app.add_option("--runtimes", options.runtimes, "floor, berth-library, berth-library-pool, berth-library-overlay, berth-library-allcaps, berth-library-seccomp, "
                 "berth-runtime, runc, crun")->delimiter(',');
  app.add_option("--throughput-seconds", options.throughput_seconds, "Seconds of the throughput run (0: skip)")
      ->capture_default_str();
  app.add_option("--concurrency", options.concurrency, "Containers in flight in the throughput run")
      ->capture_default_str();
  app.add_option("--pool-size", options.pool_size, "Network namespaces the pool keeps ready")->capture_default_str();
  app.add_option("--bin-dir", options.bin_dir, "Where berth-runtime is (default: next to this binary's build)");
  CLI11_PARSE(app, argc, argv);
  options.network = !no_network;
  if (options.bin_dir.empty()) options.bin_dir = fs::canonical("/proc/self/exe").parent_path().parent_path() / "bin";
  if (::geteuid() != 0) die("needs root (namespaces, cgroups, mounts)");

  enter_pure_cgroup2_view();
  auto id = std::to_string(::getpid());
  fs::path cgroup = fs::path("/sys/fs/cgroup") / ("berth-bench-" + id);
  fs::path scratch = fs::temp_directory_path() / ("berth-bench-" + id);
  cleanup_paths = {cgroup, scratch};
  std::atexit(clean_up);
  fs::create_directories(cgroup);
  fs::create_directories(scratch / "bundle");
  // The runtimes keep their state in a tmpfs, as /run is on a real host.
  fs::create_directories(scratch / "state");
  if (::mount("tmpfs", (scratch / "state").c_str(), "tmpfs", 0, "size=64m") != 0) die("mount tmpfs for state");
  write_bundle(scratch / "bundle", {options.network, "/berth-bench-" + id + "/ctr"});
  auto bundle = (scratch / "bundle").string();

  std::vector<std::unique_ptr<Runner>> runners;
  std::vector<LibraryRunner*> libraries;
  std::unique_ptr<launcher::NetworkNamespacePool> pool;
  for (const auto& name : options.runtimes) {
    if (name == "floor") {
      // No isolation at all: posix_spawn of the same busybox /bin/true, the floor every launcher stands on.
      runners.push_back(std::make_unique<CommandRunner>("floor (posix_spawn)", std::vector<std::string>{"/bin/busybox", "true"}));
    } else if (name == "berth-library-overlay") {
      // The rootfs as an image's: an overlay of the bundle's rootfs under a fresh upper directory.
      auto created = LibraryRunner::create("berth (library, overlay rootfs)", bundle, cgroup, scratch / "state" / name,
                                           nullptr, true);
      if (!created) die(created.error().what());
      libraries.push_back(created->get());
      runners.push_back(std::move(*created));
    } else if (name == "berth-library-allcaps" || name == "berth-library-seccomp") {
      // The cost of the security defaults: the bundle's capability set and
      // no_new_privs kept as the launcher has them (all of root's), or the
      // agent's default seccomp filter loaded on top of the bundle's settings.
      bool seccomp = name == "berth-library-seccomp";
      auto created = LibraryRunner::create(seccomp ? "berth (library, default seccomp)" : "berth (library, all caps)",
                                           bundle, cgroup, scratch / "state" / name);
      if (!created) die(created.error().what());
      if (seccomp) {
        auto program = isolators::seccomp::compile(isolators::seccomp::default_profile(),
                                                   isolators::default_capabilities());
        if (!program) die(program.error().what());
        (*created)->set_seccomp(std::make_shared<const launcher::SeccompProgram>(
            launcher::SeccompProgram{.instructions = std::move(program->instructions), .flags = 0}));
      } else {
        (*created)->keep_all_capabilities();
      }
      libraries.push_back(created->get());
      runners.push_back(std::move(*created));
    } else if (name == "berth-library" || name == "berth-library-pool") {
      launcher::NetworkNamespacePool* netns = nullptr;
      if (name == "berth-library-pool") {
        if (!options.network) continue;
        auto created = launcher::NetworkNamespacePool::create(options.pool_size);
        if (!created) die(created.error().what());
        pool = std::move(*created);
        netns = pool.get();
      }
      // Its runtime dir (where init records the exit status) in the same tmpfs, as under /run.
      auto created = LibraryRunner::create(netns ? "berth (library, netns pool)" : "berth (library)", bundle, cgroup,
                                           scratch / "state" / name, netns);
      if (!created) die(created.error().what());
      libraries.push_back(created->get());
      runners.push_back(std::move(*created));
    } else if (name == "berth-runtime") {
      runners.push_back(std::make_unique<CommandRunner>(
          "berth-runtime run", std::vector<std::string>{(options.bin_dir / "berth-runtime").string(), "--root",
                                                        (scratch / "state/berth-runtime").string(), "run", "--bundle", bundle}));
    } else if (name == "runc" || name == "crun") {
      auto path = "/usr/bin/" + name;
      if (::access(path.c_str(), X_OK) != 0) path = "/usr/sbin/" + name;
      if (::access(path.c_str(), X_OK) != 0) {
        std::printf("%s: not installed, left out\n", name.c_str());
        continue;
      }
      runners.push_back(std::make_unique<CommandRunner>(
          name + " run",
          std::vector<std::string>{path, "--root", (scratch / "state" / name).string(), "run", "--bundle", bundle}));
    } else {
      die("unknown runtime '" + name + "'");
    }
  }

  print_machine();
  for (const char* peer : {"runc", "crun"}) std::printf("%s: %s\n", peer, first_line({peer, "--version"}).c_str());
  std::printf("bundle: busybox /bin/true, namespaces pid mount uts ipc%s, cgroup, pivot_root, read-only root\n",
              options.network ? " network" : "");
  // One launch each first: a runtime that cannot run the bundle here is left out, saying why.
  std::vector<std::unique_ptr<Runner>> working;
  for (auto& runner : runners) {
    auto tried = runner->launch_once(-1);
    if (!tried) {
      std::printf("%s: cannot run the bundle here, left out: %s\n", runner->name().c_str(), tried.error().what().c_str());
      std::erase(libraries, runner.get());
      continue;
    }
    working.push_back(std::move(runner));
  }
  for (auto* library : libraries) library->clear_records();

  std::map<std::string, std::vector<std::uint64_t>> samples;
  for (int i = 0; i < options.iterations; ++i) {
    for (auto& runner : working) {
      auto ns = runner->launch_once(i);
      if (!ns) die(runner->name() + ": " + ns.error().what());
      samples[runner->name()].push_back(*ns);
    }
  }

  if (options.iterations > 0) print_latencies(options.iterations, working, samples, libraries);

  if (options.throughput_seconds > 0) {
    auto spec = launcher::oci::load_bundle(bundle);
    if (!spec) die(spec.error().what());
    auto tp = measure_throughput(*spec, cgroup, scratch / "state/throughput",
                                 {options.throughput_seconds, options.concurrency}, pool.get());
    if (!tp) die("throughput: " + tp.error().what());
    std::printf("\nthroughput: %zu launches in %.1f s with %d in flight: %.0f launches/s; "
                "this process's CPU (launching loop%s) %.0f us/launch, containers' CPU %.0f us/launch "
                "(exits seen by %s)\n",
                tp->launches, tp->elapsed_s, options.concurrency, static_cast<double>(tp->launches) / tp->elapsed_s,
                pool ? " + netns pool refills" : "", tp->loop_cpu_s * 1e6 / static_cast<double>(tp->launches),
                tp->children_cpu_s * 1e6 / static_cast<double>(tp->launches), tp->exit_backend.c_str());
    auto floor = measure_spawn_throughput({options.throughput_seconds, options.concurrency});
    std::printf("floor: posix_spawn of busybox true, no isolation, %d in flight: %.0f launches/s\n",
                options.concurrency, floor);
  }

  return 0;
}
