#pragma once
// The child side of a launch as ordered lists of small named steps, each
// returning 0 or an errno. They run between clone3 and execve, so they only
// make raw system calls: no allocation, no locks, no glibc state that another
// thread of the parent may have left locked. Each is callable on its own (in a
// forked process) for testing.

#include <sys/types.h>

#include <span>

#include "berth/launcher/child_plan.hpp"

namespace berth::launcher {

// Where init keeps what it needs once every other fd is closed.
inline constexpr int kErrorFd = 3;
inline constexpr int kRuntimeDirFd = 4;

// Exit codes of a child that failed before the task ran (the parent kills and
// reaps init anyway; these only show up if the parent is gone).
inline constexpr int kInitSetupFailed = 125;
inline constexpr int kTaskExecFailed = 127;

struct ChildState {
  int error_fd = -1;        // write end of the CLOEXEC error pipe
  int runtime_dir_fd = -1;  // opened first: exit_status is written through it
  pid_t init_pid = -1;  // as init sees itself, for the task to check its parent
  pid_t task_pid = -1;
};

using StepFn = int (*)(const ChildPlan&, ChildState&);
struct Step {
  ChildStep id;
  StepFn run;
};

namespace steps {
// init, in order:
int open_runtime_dir(const ChildPlan& plan, ChildState& state);
int isolate_fds(const ChildPlan& plan, ChildState& state);  // error pipe -> 3, runtime dir -> 4, close the rest but 0-2
int reset_signals(const ChildPlan& plan, ChildState& state);  // all dispositions default, all signals blocked
int become_subreaper(const ChildPlan& plan, ChildState& state);
int make_mounts_private(const ChildPlan& plan, ChildState& state);  // with CLONE_NEWNS
int mount_proc(const ChildPlan& plan, ChildState& state);           // with CLONE_NEWNS and CLONE_NEWPID
int set_hostname(const ChildPlan& plan, ChildState& state);         // with a hostname
int open_stdin(const ChildPlan& plan, ChildState& state);           // /dev/null
int open_stdout(const ChildPlan& plan, ChildState& state);
int open_stderr(const ChildPlan& plan, ChildState& state);
int change_dir(const ChildPlan& plan, ChildState& state);
// the task, in order:
int unblock_signals(const ChildPlan& plan, ChildState& state);
int die_with_init(const ChildPlan& plan, ChildState& state);  // SIGKILL when init dies
int new_session(const ChildPlan& plan, ChildState& state);
int close_fds(const ChildPlan& plan, ChildState& state);  // marks every fd but 0-2 close-on-exec
int exec_task(const ChildPlan& plan, ChildState& state);  // returns only on failure
}  // namespace steps

std::span<const Step> init_steps();
std::span<const Step> task_steps();

// Body of the clone3 child: runs init_steps, forks the task, then supervises
// it until it ends and exits with its code (128 + signal when killed).
[[noreturn]] void run_init(const ChildPlan& plan, ChildState& state);
// Body of the task process: runs task_steps, the last of which execve's.
[[noreturn]] void run_task(const ChildPlan& plan, ChildState& state);

// Writes "<wait status>\n" to <runtime dir>/exit_status atomically (temp file
// + rename). Returns 0 or an errno.
int write_exit_status(int runtime_dir_fd, int wait_status);

// init's own exit code for the task's wait status, as a shell reports it.
int exit_code_for(int wait_status);

}  // namespace berth::launcher
