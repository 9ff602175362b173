#include "runners.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "berth/launcher/child_plan.hpp"

extern char** environ;

namespace berth::bench {
namespace fs = std::filesystem;
using launcher::ChildStep;
using launcher::monotonic_ns;

namespace {

Result<void> wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 10'000) != 1) {
    if (errno != EINTR) return fail("the task did not exit within 10 s");
  }
  return {};
}

// The child's steps in the order they ran (by time: init and the task
// overlap around the fork), as phases, each from the end of the previous
// recorded moment to its own end.
Phases child_phases(const launcher::StepClock& clock, std::uint64_t clone_start) {
  std::vector<std::pair<std::uint64_t, std::string>> ends;
  for (std::uint32_t i = 0; i < launcher::kChildStepCount; ++i) {
    if (auto end = clock.end_ns(i); end != 0) ends.emplace_back(end, std::string(launcher::step_name(static_cast<ChildStep>(i))));
  }
  std::sort(ends.begin(), ends.end());
  Phases phases;
  std::uint64_t previous = clone_start;
  for (auto& [end, name] : ends) {
    if (phases.empty()) name = "clone3 + " + name;
    if (name == "fork task") name = "(init) fork task";
    phases.emplace_back(std::move(name), end - previous);
    previous = end;
  }
  return phases;
}

std::uint64_t last_record(const launcher::StepClock& clock) {
  std::uint64_t last = 0;
  for (std::uint32_t i = 0; i < launcher::kChildStepCount; ++i) last = std::max(last, clock.end_ns(i));
  return last;
}

}  // namespace

LibraryRunner::LibraryRunner(std::string name, launcher::oci::Spec spec, fs::path cgroup_parent, fs::path scratch,
                             launcher::StepClock clock, launcher::NetworkNamespacePool* pool)
    : name_(std::move(name)),
      pool_(pool),
      spec_(std::move(spec)),
      cgroup_parent_(std::move(cgroup_parent)),
      scratch_(std::move(scratch)),
      clock_(std::move(clock)) {}

Result<std::unique_ptr<LibraryRunner>> LibraryRunner::create(std::string name, const fs::path& bundle,
                                                             const fs::path& cgroup_parent, const fs::path& scratch,
                                                             launcher::NetworkNamespacePool* pool, bool overlay) {
  BERTH_TRY(auto spec, launcher::oci::load_bundle(bundle));
  BERTH_TRY(auto clock, launcher::StepClock::create());
  fs::create_directories(scratch);
  auto runner = std::unique_ptr<LibraryRunner>(
      new LibraryRunner(std::move(name), std::move(spec), cgroup_parent, scratch, std::move(clock), pool));
  runner->overlay_ = overlay;
  if (overlay) fs::create_directories(scratch / "mnt");
  return runner;
}

Result<std::uint64_t> LibraryRunner::launch_once(int iteration) {
  clock_.clear();
  auto cgroup = cgroup_parent_ / ("lib-" + std::to_string(iteration));
  auto start = monotonic_ns();
  if (::mkdir(cgroup.c_str(), 0755) != 0) return fail_sys("mkdir", cgroup);
  UniqueFd cgroup_fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) return fail_sys("open", cgroup);
  auto cgroup_made = monotonic_ns();

  launcher::LaunchRequest request;
  request.container_id = "bench-" + std::to_string(iteration);
  request.spec = spec_;
  auto upper = scratch_ / ("upper-" + std::to_string(iteration));
  auto work = scratch_ / ("work-" + std::to_string(iteration));
  if (overlay_) {
    // The image's layer stays; each container gets its own writable layer.
    if (::mkdir(upper.c_str(), 0755) != 0) return fail_sys("mkdir", upper);
    if (::mkdir(work.c_str(), 0755) != 0) return fail_sys("mkdir", work);
    fs::path rootfs = spec_.root.path;
    request.spec.root.path = (scratch_ / "mnt").string();
    request.overlay = launcher::OverlayRootfs{rootfs.parent_path(), {rootfs.filename().string()}, upper, work};
  }
  auto provisioned = monotonic_ns();
  request.stdout_path = "/dev/null";
  request.stderr_path = scratch_ / "stderr";
  request.runtime_dir = scratch_;
  request.cgroup_fd = cgroup_fd.get();
  request.step_clock = &clock_;
  request.seccomp = seccomp_;
  UniqueFd network;
  if (pool_ != nullptr && (request.spec.linux_config.new_namespace_flags() & CLONE_NEWNET)) {
    network = pool_->take();
    for (auto& ns : request.spec.linux_config.namespaces) {
      if (network && ns.type == CLONE_NEWNET) ns.path = launcher::NetworkNamespacePool::path_of(network);
    }
  }
  auto launched = launcher_.launch(request);
  if (!launched) {
    ::rmdir(cgroup.c_str());
    return std::unexpected(std::move(launched).error());
  }
  auto returned = monotonic_ns();
  // The task's end is known at init's exit notice; init's own exit (the
  // namespaces' teardown) follows, and is part of the untimed teardown.
  BERTH_TRY_VOID(wait_readable(launched->exit_notice.get()));
  auto exited = monotonic_ns();
  BERTH_TRY(auto noticed, launcher::read_exit_notice(launched->exit_notice.get()));
  BERTH_TRY_VOID(wait_readable(launched->pidfd.get()));
  init_exits_.push_back(monotonic_ns() - exited);

  BERTH_TRY(auto status, launcher::reap(launched->pidfd.get()));
  cgroup_fd.reset();
  if (::rmdir(cgroup.c_str()) != 0) return fail_sys("rmdir", cgroup);
  fs::remove(scratch_ / launcher::kExitStatusFile);
  if (overlay_) {
    std::error_code ignored;
    fs::remove_all(upper, ignored);
    fs::remove_all(work, ignored);
  }
  teardowns_.push_back(monotonic_ns() - exited);
  if (status.signaled || status.code != 0 || !(noticed == status)) return fail("the task " + status.describe());

  auto clone_start = clock_.end_ns(launcher::kCloneStartRecord);
  Phases phases{{"mkdir + open cgroup", cgroup_made - start}};
  if (overlay_) phases.emplace_back("mkdir upper + work", provisioned - cgroup_made);
  phases.emplace_back("validate + plan (parent)", clone_start - provisioned);
  for (auto& phase : child_phases(clock_, clone_start)) phases.push_back(std::move(phase));
  auto exec_start = last_record(clock_);
  auto init_running = clock_.end_ns(launcher::kInitRunningRecord);
  auto reaped = clock_.end_ns(launcher::kTaskReapedRecord);
  auto recorded = clock_.end_ns(launcher::kStatusWrittenRecord);
  phases.emplace_back("(berth-init running, after)", init_running > exec_start ? init_running - exec_start : 0);
  phases.emplace_back("execve /bin/true, run, exit, reaped by init", reaped - exec_start);
  phases.emplace_back("init records the exit status", recorded - reaped);
  phases.emplace_back("init's exit notice seen", exited - recorded);
  phases.emplace_back("(launch() returned, after)", returned > exec_start ? returned - exec_start : 0);
  phases_.push_back(std::move(phases));
  return exited - start;
}

CommandRunner::CommandRunner(std::string name, std::vector<std::string> argv_before_id)
    : name_(std::move(name)), argv_(std::move(argv_before_id)) {}

Result<std::uint64_t> CommandRunner::launch_once(int iteration) {
  auto argv = argv_;
  argv.push_back("bench-" + std::to_string(::getpid()) + "-" + std::to_string(iteration));
  std::vector<char*> pointers;
  for (auto& a : argv) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  auto start = monotonic_ns();
  pid_t pid = -1;
  int error = ::posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return fail(Error::sys("posix_spawn", error, argv[0]));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto end = monotonic_ns();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(name_ + " run failed with wait status " + std::to_string(status));
  }
  return end - start;
}

}  // namespace berth::bench
