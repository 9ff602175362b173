// The container's init: setup steps, then supervision of the task.

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdint>

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

constexpr char kExitStatusTmp[] = "exit_status.tmp";

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

// Signals an orchestrator or a user sends to stop or poke the container; init
// passes them on, as tini and dumb-init do.
bool is_forwarded(long sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 || sig == SIGUSR2;
}

// Reaps every exited child (init inherits all orphans of the container).
// Returns true once the task itself has been reaped, with its status.
bool reap_children(pid_t task_pid, int& task_status) {
  bool task_ended = false;
  for (;;) {
    int status = 0;
    long pid = syscall(SYS_wait4, -1, &status, WNOHANG | __WALL, nullptr);
    if (pid <= 0) return task_ended;
    if (pid == task_pid) {
      task_status = status;
      task_ended = true;
    }
  }
}

std::size_t format_decimal(unsigned value, char* out) {
  char digits[16];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (std::size_t i = 0; i < count; ++i) out[i] = digits[count - 1 - i];
  return count;
}

// Everything init does after forking the task, until the task ends. All
// signals stay blocked and are taken synchronously, so init needs no handler.
[[noreturn]] void supervise(ChildState& state) {
  std::uint64_t all = ~std::uint64_t{0};
  for (;;) {
    siginfo_t info;
    long sig = syscall(SYS_rt_sigtimedwait, &all, &info, nullptr, kKernelSigsetSize);
    if (sig == SIGCHLD) {
      int status = 0;
      if (!reap_children(state.task_pid, status)) continue;
      record_time(state, kTaskReapedRecord);
      // Nothing to report to if this fails: the agent falls back to init's exit code.
      (void)write_exit_status(state.runtime_dir_fd, status);
      record_time(state, kStatusWrittenRecord);
      raw::exit_now(exit_code_for(status));
    }
    if (is_forwarded(sig)) syscall(SYS_kill, state.task_pid, sig);
  }
}

}  // namespace

namespace steps {

// In a new user namespace init keeps the host's ids, which the namespace
// shows as the overflow id: until the parent has written the maps and init
// has become the namespace's root, every file it creates fails with EOVERFLOW.
// (Root of the namespace keeps its capabilities there.)
int wait_for_id_maps(const ChildPlan& plan, ChildState& state) {
  if (!plan.has_namespace(CLONE_NEWUSER)) return 0;
  char byte = 0;
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

// init never execs, so close-on-exec does not protect it: without this it
// would hold every fd of the agent (listening sockets, other launches' error
// pipes) for as long as the container runs.
int isolate_fds(const ChildPlan&, ChildState& state) {
  long error_copy = syscall(SYS_fcntl, state.error_fd, F_DUPFD_CLOEXEC, kRuntimeDirFd + 1);
  if (error_copy < 0) return errno;
  long dir_copy = syscall(SYS_fcntl, state.runtime_dir_fd, F_DUPFD_CLOEXEC, kRuntimeDirFd + 1);
  if (dir_copy < 0) return errno;
  if (syscall(SYS_dup3, error_copy, kErrorFd, O_CLOEXEC) < 0) return errno;
  state.error_fd = kErrorFd;
  if (syscall(SYS_dup3, dir_copy, kRuntimeDirFd, O_CLOEXEC) < 0) return errno;
  state.runtime_dir_fd = kRuntimeDirFd;
  return raw::errno_of(syscall(SYS_close_range, kRuntimeDirFd + 1, ~0U, 0));
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

// Once the task has its own copy of the capabilities, init needs none of them
// but CAP_KILL, to pass signals to a task that runs as another uid.
int drop_init_capabilities(const ChildPlan&, ChildState&) {
  constexpr std::uint32_t kKill = 1U << CAP_KILL;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  data[0] = {kKill, kKill, 0};
  return raw::errno_of(syscall(SYS_capset, &header, data));
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

// Closing the error pipe tells the parent the container is set up; opening
// the gate fifo for writing blocks until start_gate::open() opens it for
// reading. The fifo is reached through the runtime dir's descriptor, which
// was opened before pivot_root.
int wait_for_start(const ChildPlan& plan, ChildState& state) {
  if (!plan.gated()) return 0;
  syscall(SYS_close, state.error_fd);
  state.error_fd = -1;
  long fd;
  while ((fd = syscall(SYS_openat, state.runtime_dir_fd, kStartGateFile, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (fd < 0) return errno;
  char byte = 's';
  long written = syscall(SYS_write, fd, &byte, 1);
  int error = written == 1 ? 0 : (written < 0 ? errno : EIO);
  syscall(SYS_close, fd);
  return error;
}

}  // namespace steps

std::span<const Step> init_steps() {
  static constexpr std::array<Step, 26> kSteps{{
      {ChildStep::kWaitForIdMaps, steps::wait_for_id_maps},
      {ChildStep::kOpenRuntimeDir, steps::open_runtime_dir},
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
      {ChildStep::kWaitForStart, steps::wait_for_start},
  }};
  return kSteps;
}

int write_exit_status(int runtime_dir_fd, int wait_status) {
  char text[16];
  std::size_t length = format_decimal(static_cast<unsigned>(wait_status), text);
  text[length++] = '\n';
  long fd = syscall(SYS_openat, runtime_dir_fd, kExitStatusTmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  long written = syscall(SYS_write, fd, text, length);
  int error = written < 0 ? errno : (static_cast<std::size_t>(written) != length ? EIO : 0);
  syscall(SYS_close, fd);
  if (error != 0) return error;
  // rename is atomic: a reader sees no file or the whole status, never a torn one.
  return raw::errno_of(syscall(SYS_renameat2, runtime_dir_fd, kExitStatusTmp, runtime_dir_fd, kExitStatusFile, 0));
}

int exit_code_for(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

namespace {

// The task's stack while it shares init's memory (CLONE_VM), until execve.
// Each init has its own copy-on-write copy of this process's memory, so one
// buffer serves every launch, concurrent ones included.
alignas(64) char task_stack[64 * 1024];

struct TaskStart {
  const ChildPlan* plan;
  ChildState state;  // the task's own copy: init's is in the same memory
};

int task_entry(void* start) {
  auto* task = static_cast<TaskStart*>(start);
  ChildState state = task->state;
  run_task(*task->plan, state);
}

}  // namespace

void run_init(const ChildPlan& plan, ChildState& state) {
  raw::run_steps(init_steps(), plan, state, kInitSetupFailed);
  state.init_pid = static_cast<pid_t>(syscall(SYS_getpid));
  // vfork semantics: the task borrows init's memory instead of copying its
  // page tables (init's memory is a copy of the whole launching process), and
  // init sleeps until the task has execve'd or exited. glibc's clone() is a
  // bare system call wrapper; its fork() would run atfork handlers and take locks.
  TaskStart start{&plan, state};
  int pid = ::clone(task_entry, task_stack + sizeof task_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (pid < 0) raw::report_failure(state.error_fd, ChildStep::kForkTask, errno, kInitSetupFailed);
  state.task_pid = pid;
  // The task dies with init (its parent-death signal) if this fails.
  if (int error = steps::drop_init_capabilities(plan, state); error != 0) {
    raw::report_failure(state.error_fd, ChildStep::kDropInitCapabilities, error, kInitSetupFailed);
  }
  // The parent reads the error pipe until EOF: the task's copy closed at its
  // execve (or carried its failure report).
  syscall(SYS_close, state.error_fd);
  state.error_fd = -1;
  supervise(state);
}

}  // namespace berth::launcher
