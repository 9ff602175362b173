// The container's init, until it exec's berth-init: setup steps, starting
// the task, then the exec. It borrows the launching process's memory
// (clone3 with CLONE_VM | CLONE_VFORK) instead of copying it, so it must
// not return into the parent's frames or touch the parent's state.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/futex.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "../init/init_core.hpp"
#include "berth/launcher/child_steps.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {

namespace {

// The kernel's struct sigaction (not glibc's): rt_sigaction is called raw.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};
constexpr std::size_t kKernelSigsetSize = sizeof(std::uint64_t);
constexpr int kMaxSignal = 64;

// Opens `path` and moves it onto `target` (0, 1 or 2), inheritable. An empty
// path keeps the caller's descriptor.
int open_onto(const char* path, int flags, int target) {
  if (*path == '\0') return 0;
  long fd = syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return errno;
  if (fd == target) return raw::errno_of(syscall(SYS_fcntl, fd, F_SETFD, 0));
  int error = raw::errno_of(syscall(SYS_dup3, fd, target, 0));
  syscall(SYS_close, fd);
  return error;
}

int block_all_signals() {
  std::uint64_t all = ~std::uint64_t{0};
  return raw::errno_of(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, kKernelSigsetSize));
}

}  // namespace

namespace steps {

int join_namespaces(const ChildPlan& plan, ChildState& state) {
  const auto& joins = plan.joined_namespaces();
  for (std::uint32_t i = 0; i < joins.size(); ++i) {
    state.failed_index = i;
    if (syscall(SYS_setns, joins[i].fd, joins[i].type) != 0) return errno;
  }
  return 0;
}

// In a new user namespace init keeps the host's ids, which the namespace
// shows as the overflow id: until the parent has written the maps and init
// has become the namespace's root, every file it creates fails with EOVERFLOW.
// (Root of the namespace keeps its capabilities there.)
int wait_for_id_maps(const ChildPlan& plan, ChildState& state) {
  if (!plan.has_namespace(CLONE_NEWUSER)) return 0;
  char byte = 's';
  if (syscall(SYS_write, state.started_fd, &byte, 1) != 1) return errno;
  syscall(SYS_close, state.started_fd);
  state.started_fd = -1;
  long n;
  while ((n = syscall(SYS_read, state.sync_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n < 0) return errno;
  syscall(SYS_close, state.sync_fd);
  state.sync_fd = -1;
  if (n != 1) return ECANCELED;  // EOF: the parent gave up
  if (syscall(SYS_setresgid, 0, 0, 0) < 0) return errno;
  return raw::errno_of(syscall(SYS_setresuid, 0, 0, 0));
}

int open_runtime_dir(const ChildPlan& plan, ChildState& state) {
  long fd = syscall(SYS_openat, AT_FDCWD, plan.runtime_dir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  state.runtime_dir_fd = static_cast<int>(fd);
  return 0;
}

// init runs in the launching process's fd table until its exec, and
// close-on-exec cannot protect what the container's init must not hold:
// the agent's listening sockets, other launches' pipes. Everything but stdio
// and init's own four goes; those are moved to fixed numbers (copied above
// them first, so that no move overwrites another).
int isolate_fds(const ChildPlan&, ChildState& state) {
  constexpr int kFirstFree = kExitNoticeFd + 1;
  int* fds[] = {&state.error_fd, &state.runtime_dir_fd, &state.init_image_fd, &state.step_clock_fd,
                &state.exit_notice_fd};
  const int targets[] = {kErrorFd, kRuntimeDirFd, kInitImageFd, kStepClockFd, kExitNoticeFd};
  constexpr int kCount = 5;
  long copies[kCount] = {-1, -1, -1, -1, -1};
  for (int i = 0; i < kCount; ++i) {
    if (*fds[i] < 0) continue;
    copies[i] = syscall(SYS_fcntl, *fds[i], F_DUPFD_CLOEXEC, kFirstFree);
    if (copies[i] < 0) return errno;
  }
  for (int i = 0; i < kCount; ++i) {
    if (copies[i] < 0) {
      syscall(SYS_close, targets[i]);  // whatever the parent had there
      continue;
    }
    if (syscall(SYS_dup3, copies[i], targets[i], O_CLOEXEC) < 0) return errno;
    *fds[i] = targets[i];
  }
  return raw::errno_of(syscall(SYS_close_range, kFirstFree, ~0U, 0));
}

// The parent's handlers mean nothing here, and an ignored SIGCHLD would make
// the kernel auto-reap the task and lose its status.
int reset_signals(const ChildPlan&, ChildState&) {
  KernelSigaction default_action{SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (syscall(SYS_rt_sigaction, sig, &default_action, nullptr, kKernelSigsetSize) < 0 && errno != EINVAL) {
      return errno;
    }
  }
  return block_all_signals();
}

// init holds what the task must never get: the host's capabilities before
// the task drops them, and descriptors of the runtime dir. A non-dumpable
// process cannot be ptraced, and its /proc entries (exe, fd, mem, environ)
// belong to the host's root, by a task of any uid without CAP_SYS_PTRACE.
// The task's execve makes the task itself dumpable again.
int make_non_dumpable(const ChildPlan&, ChildState&) {
  return raw::errno_of(syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0));
}

// Pid 1 of a new pid namespace reaps orphans anyway; without one, this makes
// init their reaper all the same.
int become_subreaper(const ChildPlan&, ChildState&) {
  return raw::errno_of(syscall(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}

int open_stdin(const ChildPlan& plan, ChildState&) { return open_onto(plan.stdin_path(), O_RDONLY, STDIN_FILENO); }

int open_stdout(const ChildPlan& plan, ChildState&) {
  return open_onto(plan.stdout_path(), O_WRONLY | O_CREAT | O_APPEND, STDOUT_FILENO);
}

int open_stderr(const ChildPlan& plan, ChildState&) {
  return open_onto(plan.stderr_path(), O_WRONLY | O_CREAT | O_APPEND, STDERR_FILENO);
}

// A gated container's task runs after the launch has returned, with no one
// to tell that its executable is missing: look for it now, as execve will
// (init already sees the container's root and working directory).
int find_executable(const ChildPlan& plan, ChildState&) {
  if (!plan.gated()) return 0;
  bool denied = false;
  for (const char* candidate : plan.exec_candidates()) {
    struct stat info;
    if (syscall(SYS_newfstatat, AT_FDCWD, candidate, &info, 0) != 0) continue;
    if (S_ISREG(info.st_mode) && syscall(SYS_faccessat, AT_FDCWD, candidate, X_OK) == 0) return 0;
    denied = true;
  }
  return denied ? EACCES : ENOENT;
}

// init becomes berth-init, which supervises the task with nothing of the
// launching process: a fresh small address space, only fds 0-2, the runtime
// dir, the exit notice pipe and (timed) the step clock. Its exec closes the
// error pipe and frees the parent. argv: "berth-init", the task's pid, the
// step clock's fd or "-", the notice pipe's fd or "-".
int exec_init(const ChildPlan&, ChildState& state) {
  if (syscall(SYS_fcntl, state.runtime_dir_fd, F_SETFD, 0) < 0) return errno;
  char pid_text[16] = {};
  char clock_text[16] = "-";
  char notice_text[16] = "-";
  init::format_decimal(static_cast<unsigned>(state.task_pid), pid_text);
  for (auto [fd, text] : {std::pair{state.step_clock_fd, clock_text}, std::pair{state.exit_notice_fd, notice_text}}) {
    if (fd < 0) continue;
    if (syscall(SYS_fcntl, fd, F_SETFD, 0) < 0) return errno;
    text[init::format_decimal(static_cast<unsigned>(fd), text)] = '\0';
  }
  char name[] = "berth-init";
  char* argv[] = {name, pid_text, clock_text, notice_text, nullptr};
  char* envp[] = {nullptr};
  char empty[] = "";
  syscall(SYS_execveat, state.init_image_fd, empty, argv, envp, AT_EMPTY_PATH);
  return errno;
}

}  // namespace steps

std::span<const Step> init_steps() {
  static constexpr std::array<Step, 27> kSteps{{
      {ChildStep::kJoinNamespaces, steps::join_namespaces},
      {ChildStep::kWaitForIdMaps, steps::wait_for_id_maps},
      {ChildStep::kOpenRuntimeDir, steps::open_runtime_dir},
      {ChildStep::kAttachLayers, steps::attach_layers},
      {ChildStep::kIsolateFds, steps::isolate_fds},
      {ChildStep::kResetSignals, steps::reset_signals},
      {ChildStep::kMakeNonDumpable, steps::make_non_dumpable},
      {ChildStep::kBecomeSubreaper, steps::become_subreaper},
      {ChildStep::kOpenStdin, steps::open_stdin},
      {ChildStep::kOpenStdout, steps::open_stdout},
      {ChildStep::kOpenStderr, steps::open_stderr},
      {ChildStep::kMakeMountsPrivate, steps::make_mounts_private},
      {ChildStep::kBindRootfs, steps::bind_rootfs},
      {ChildStep::kMountDev, steps::mount_dev},
      {ChildStep::kMountSpecMounts, steps::mount_spec_mounts},
      {ChildStep::kCreateDevices, steps::create_devices},
      {ChildStep::kLinkDevSymlinks, steps::link_dev_symlinks},
      {ChildStep::kMountDevShm, steps::mount_dev_shm},
      {ChildStep::kPivotRoot, steps::pivot_root},
      {ChildStep::kReadonlyRoot, steps::readonly_root},
      {ChildStep::kWriteSysctls, steps::write_sysctls},
      {ChildStep::kReadonlyPaths, steps::readonly_paths},
      {ChildStep::kMaskPaths, steps::mask_paths},
      {ChildStep::kSetHostname, steps::set_hostname},
      {ChildStep::kSetDomainname, steps::set_domainname},
      {ChildStep::kChdir, steps::change_dir},
      {ChildStep::kFindExecutable, steps::find_executable},
  }};
  return kSteps;
}

namespace {

struct TaskStart {
  const ChildPlan* plan;
  ChildState state;  // the task's own copy: init's is in the same memory
};

int task_entry(void* start) {
  auto* task = static_cast<TaskStart*>(start);
  ChildState state = task->state;
  run_task(*task->plan, state);
}

// Starts the task on its own stack. Without a gate it borrows this memory
// too (which is the launching process's): the launching thread wakes when
// init exec's berth-init and waits on the error pipe until the task exec's,
// so the task's stack, the plan and init's stack outlive its use of them.
// Gated, the task waits for its start long after this launch has returned,
// so it takes a copy instead. glibc's clone() is a bare system call wrapper;
// its fork() would run atfork handlers and take locks. `start` must stay
// until init exec's: the task copies it when it gets to run.
void start_task(const ChildPlan& plan, ChildState& state, TaskStart& start) {
  int flags = plan.gated() ? SIGCHLD : CLONE_VM | SIGCHLD;
  start = {&plan, state};
  record_time(state, static_cast<std::size_t>(ChildStep::kForkTask));  // when init starts it
  int pid = ::clone(task_entry, state.task_stack_top, flags, &start);
  if (pid < 0) raw::report_failure(state.error_fd, ChildStep::kForkTask, errno, kInitSetupFailed);
  state.task_pid = pid;
}

}  // namespace

void run_init(const ChildPlan& plan, ChildState& state) {
  auto steps = init_steps();
  TaskStart start{};
  if (!plan.task_forks_early()) {
    raw::run_steps(steps, plan, state, kInitSetupFailed);
    state.init_pid = static_cast<pid_t>(syscall(SYS_getpid));
    start_task(plan, state, start);
  } else {
    // Once stdio is open, the task starts and loads its filter and drops its
    // bounding set (a few hundred system calls' worth) on another CPU while
    // init mounts; pivot_root moves its root with init's. It waits for this
    // word before it goes on.
    std::uint32_t setup_done = 0;
    auto mounts = static_cast<std::size_t>(
        std::ranges::find(steps, ChildStep::kMakeMountsPrivate, &Step::id) - steps.begin());
    raw::run_steps(steps.first(mounts), plan, state, kInitSetupFailed);
    state.init_pid = static_cast<pid_t>(syscall(SYS_getpid));
    state.setup_done = &setup_done;
    start_task(plan, state, start);
    state.setup_done = nullptr;
    // Should a step fail, init exits and the task dies with it (its parent-death signal).
    raw::run_steps(steps.subspan(mounts), plan, state, kInitSetupFailed);
    __atomic_store_n(&setup_done, 1, __ATOMIC_RELEASE);
    raw::sys(__NR_futex, reinterpret_cast<long>(&setup_done), FUTEX_WAKE_PRIVATE, 1);
  }
  // The task dies with init (its parent-death signal, or as pid 1's) if this fails.
  int error = steps::exec_init(plan, state);
  raw::report_failure(state.error_fd, ChildStep::kExecInit, error, kInitSetupFailed);
}

}  // namespace berth::launcher
