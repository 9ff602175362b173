#pragma once
// The child side of a launch as ordered lists of small named steps, each
// returning 0 or an errno. They run between clone3 and execve, so they only
// make raw system calls: no allocation, no locks, no glibc state that another
// thread of the parent may have left locked. Each is callable on its own (in a
// forked process) for testing.

#include <sys/types.h>

#include <cstdint>
#include <span>

#include "berth/launcher/child_plan.hpp"

namespace berth::launcher {

// Where init keeps what it needs once every other fd is closed: the error
// pipe (closed by its exec), the runtime dir, the step clock and the exit
// notice pipe (kept open for berth-init), and berth-init's image (exec'd
// through it).
inline constexpr int kErrorFd = 3;
inline constexpr int kRuntimeDirFd = 4;
inline constexpr int kInitImageFd = 5;
inline constexpr int kStepClockFd = 6;
inline constexpr int kExitNoticeFd = 7;

// Exit codes of a child that failed before the task ran (the parent kills and
// reaps init anyway; these only show up if the parent is gone).
inline constexpr int kInitSetupFailed = 125;
inline constexpr int kTaskExecFailed = 127;

struct ChildState {
  int error_fd = -1;        // write end of the CLOEXEC error pipe; -1 once a gated task passed its gate
  int sync_fd = -1;         // read end of the pipe the parent closes once uid/gid maps are written (user namespace)
  int started_fd = -1;      // write end of the pipe init tells the parent it runs on (user namespace)
  int runtime_dir_fd = -1;  // opened first: exit_status is written through it
  int init_image_fd = -1;   // the sealed memfd of berth-init
  int step_clock_fd = -1;   // LaunchRequest::step_clock's memfd, or -1
  int exit_notice_fd = -1;  // write end of the pipe berth-init tells the task's end on
  char* task_stack_top = nullptr;  // the task's stack while it borrows init's memory
  pid_t init_pid = -1;  // as init sees itself, for the task to check its parent
  pid_t task_pid = -1;
  std::uint32_t failed_index = 0;  // set by a step over a list before it returns an errno
  // A task forked early waits for init's setup on this word (in init's
  // memory, which it shares): init sets it to 1 before it exec's berth-init.
  std::uint32_t* setup_done = nullptr;
  StepRecords* records = nullptr;  // LaunchRequest::step_clock's records
};

// Notes the time in record `index` of `state.records`, if the launch is timed.
inline void record_time(const ChildState& state, std::size_t index) {
  if (state.records != nullptr) state.records->end_ns[index].store(monotonic_ns(), std::memory_order_relaxed);
}

using StepFn = int (*)(const ChildPlan&, ChildState&);
struct Step {
  ChildStep id;
  StepFn run;
};

namespace steps {
// init, in order:
int join_namespaces(const ChildPlan& plan, ChildState& state);  // setns into linux.namespaces[].path
int wait_for_id_maps(const ChildPlan& plan, ChildState& state);  // with a user namespace: say so, wait until the parent wrote them
int open_runtime_dir(const ChildPlan& plan, ChildState& state);
int attach_layers(const ChildPlan& plan, ChildState& state);  // idmapped layer trees, in the container's mount namespace
int isolate_fds(const ChildPlan& plan, ChildState& state);  // error pipe -> 3, runtime dir -> 4, image -> 5, clock -> 6, notice -> 7; close the rest but 0-2
int reset_signals(const ChildPlan& plan, ChildState& state);  // all dispositions default, all signals blocked
int make_non_dumpable(const ChildPlan& plan, ChildState& state);  // no ptrace of init, no /proc/1/exe, from the task
int become_subreaper(const ChildPlan& plan, ChildState& state);
int open_stdin(const ChildPlan& plan, ChildState& state);  // /dev/null; stdio is opened on the host's paths, before any mount
int open_stdout(const ChildPlan& plan, ChildState& state);
int open_stderr(const ChildPlan& plan, ChildState& state);
// rootfs_steps.cpp: with CLONE_NEWNS
int make_mounts_private(const ChildPlan& plan, ChildState& state);  // linux.rootfsPropagation, default rprivate
int bind_rootfs(const ChildPlan& plan, ChildState& state);          // with a rootfs: pivot_root needs a mount point
int mount_dev(const ChildPlan& plan, ChildState& state);            // tmpfs at /dev with a rootfs, unless the spec mounts one
int mount_spec_mounts(const ChildPlan& plan, ChildState& state);    // spec.mounts, in order, creating mount points
int create_devices(const ChildPlan& plan, ChildState& state);       // null, zero, full, random, urandom, tty + linux.devices
int link_dev_symlinks(const ChildPlan& plan, ChildState& state);    // /dev/fd, stdin, stdout, stderr, ptmx
int mount_dev_shm(const ChildPlan& plan, ChildState& state);        // unless the spec mounts /dev/shm
int pivot_root(const ChildPlan& plan, ChildState& state);           // with a rootfs; the old root is detached
int readonly_root(const ChildPlan& plan, ChildState& state);        // root.readonly
int write_sysctls(const ChildPlan& plan, ChildState& state);        // before readonlyPaths may cover /proc/sys
int readonly_paths(const ChildPlan& plan, ChildState& state);
int mask_paths(const ChildPlan& plan, ChildState& state);
int set_hostname(const ChildPlan& plan, ChildState& state);         // with a hostname
int set_domainname(const ChildPlan& plan, ChildState& state);       // with a domainname
int change_dir(const ChildPlan& plan, ChildState& state);           // process.cwd, inherited by the task
int find_executable(const ChildPlan& plan, ChildState& state);      // gated: args[0] exists and is executable
// init, once the task has execve'd (or, gated, is forked): becomes berth-init.
int exec_init(const ChildPlan& plan, ChildState& state);
// the task forked early (ChildPlan::task_forks_early), beside init's setup:
int die_with_init(const ChildPlan& plan, ChildState& state);  // SIGKILL when init dies; again after setuid, which clears it
int load_seccomp_early(const ChildPlan& plan, ChildState& state);  // privileged, while CAP_SYS_ADMIN is held
int drop_bounding_set(const ChildPlan& plan, ChildState& state);  // needs CAP_SETPCAP: before setuid
int wait_for_setup(const ChildPlan& plan, ChildState& state);  // until init has set the container up
int task_chdir(const ChildPlan& plan, ChildState& state);  // process.cwd: init's came after the fork
// the task, in order:
int unblock_signals(const ChildPlan& plan, ChildState& state);
int new_session(const ChildPlan& plan, ChildState& state);
// security_steps.cpp:
int set_rlimits(const ChildPlan& plan, ChildState& state);
int set_oom_score_adj(const ChildPlan& plan, ChildState& state);  // before setuid makes /proc/self root's
// seccomp_steps.cpp: the filter is loaded once, by one of these two.
int load_seccomp_privileged(const ChildPlan& plan, ChildState& state);  // without no_new_privs: while CAP_SYS_ADMIN is held
int drop_bounding_set_late(const ChildPlan& plan, ChildState& state);  // unless the task forked early
int keep_caps(const ChildPlan& plan, ChildState& state);          // so setuid keeps the permitted set
int set_groups(const ChildPlan& plan, ChildState& state);
int set_gid(const ChildPlan& plan, ChildState& state);
int set_uid(const ChildPlan& plan, ChildState& state);
int set_capabilities(const ChildPlan& plan, ChildState& state);  // effective, permitted, inheritable
int set_ambient_caps(const ChildPlan& plan, ChildState& state);
int no_new_privs(const ChildPlan& plan, ChildState& state);
int set_umask(const ChildPlan& plan, ChildState& state);
int close_fds(const ChildPlan& plan, ChildState& state);  // marks every fd but 0-2 close-on-exec
int wait_for_start(const ChildPlan& plan, ChildState& state);  // gated: report ready, block on the start gate
int load_seccomp(const ChildPlan& plan, ChildState& state);  // with no_new_privs: last, so setup is not filtered
int exec_task(const ChildPlan& plan, ChildState& state);  // returns only on failure
}  // namespace steps

std::span<const Step> init_steps();
std::span<const Step> early_task_steps();
std::span<const Step> task_steps();

// Body of the clone3 child, which borrows the launching process's memory
// (CLONE_VM | CLONE_VFORK): runs init_steps, starts the task, and exec's
// berth-init, which supervises the task until it ends and exits with its code
// (128 + signal when killed).
[[noreturn]] void run_init(const ChildPlan& plan, ChildState& state);
// Body of the task process: runs task_steps, the last of which execve's.
[[noreturn]] void run_task(const ChildPlan& plan, ChildState& state);


}  // namespace berth::launcher
