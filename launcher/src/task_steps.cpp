// The task process, between init's fork and execve.

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/prctl.h>

#include <array>
#include <cstdint>

#include "berth/launcher/child_steps.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {

using raw::sys;

namespace steps {

int unblock_signals(const ChildPlan&, ChildState&) {
  std::uint64_t none = 0;
  return raw::error_of(sys(__NR_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, sizeof none));
}

// init is the container: without a pid namespace nothing else would take the
// task down when init is killed. (init itself has no parent-death signal: it
// must outlive the agent.) After setresuid, which clears the signal.
int die_with_init(const ChildPlan&, ChildState& state) {
  if (long r = sys(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL); r < 0) return raw::error_of(r);
  // init may have died before the prctl took effect.
  return sys(__NR_getppid) == state.init_pid ? 0 : ESRCH;
}

// Its own session and process group: detached from any terminal of the agent,
// and a unit for signalling the task with its children.
int new_session(const ChildPlan&, ChildState&) { return raw::error_of(sys(__NR_setsid)); }

// init's setup goes on beside a task forked early; init says when it is done.
int wait_for_setup(const ChildPlan&, ChildState& state) {
  if (state.setup_done == nullptr) return 0;
  while (__atomic_load_n(state.setup_done, __ATOMIC_ACQUIRE) == 0) {
    long r = sys(__NR_futex, reinterpret_cast<long>(state.setup_done), FUTEX_WAIT_PRIVATE, 0, 0);
    if (r < 0 && r != -EAGAIN && r != -EINTR) return raw::error_of(r);
  }
  return 0;
}

// Forked before init's chdir (and pivot_root, which moves only a working
// directory that was the old root): the task goes where init went.
int task_chdir(const ChildPlan& plan, ChildState& state) {
  if (state.setup_done == nullptr) return 0;
  return change_dir(plan, state);
}

// Close-on-exec rather than close, so the error pipe stays usable until execve.
int close_fds(const ChildPlan&, ChildState&) {
  return raw::error_of(sys(__NR_close_range, STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC));
}

// execvpe(3)'s search: a missing candidate moves on to the next one; EACCES is
// reported only if no later candidate runs.
int exec_task(const ChildPlan& plan, ChildState&) {
  int error = ENOENT;
  bool denied = false;
  for (const char* candidate : plan.exec_candidates()) {
    error = raw::error_of(sys(__NR_execve, reinterpret_cast<long>(candidate), reinterpret_cast<long>(plan.argv()),
                              reinterpret_cast<long>(plan.envp())));
    if (error == EACCES) {
      denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE) {
      return error;
    }
  }
  return denied ? EACCES : error;
}

// Gated: closing the error pipe tells the parent the container is set up,
// to its last step before exec; opening the gate fifo for writing blocks
// until start_gate::open() opens it for reading. The fifo is reached through
// the runtime dir's descriptor, which was opened before pivot_root.
int wait_for_start(const ChildPlan& plan, ChildState& state) {
  if (!plan.gated()) return 0;
  sys(__NR_close, state.error_fd);
  state.error_fd = -1;
  long fd;
  while ((fd = sys(__NR_openat, state.runtime_dir_fd, reinterpret_cast<long>(kStartGateFile), O_WRONLY | O_CLOEXEC)) ==
         -EINTR) {
  }
  if (fd < 0) return raw::error_of(fd);
  char byte = 's';
  long written = sys(__NR_write, fd, reinterpret_cast<long>(&byte), 1);
  sys(__NR_close, fd);
  return written == 1 ? 0 : (written < 0 ? raw::error_of(written) : EIO);
}

}  // namespace steps

std::span<const Step> early_task_steps() {
  static constexpr std::array<Step, 4> kSteps{{
      {ChildStep::kDieWithInitEarly, steps::die_with_init},
      {ChildStep::kLoadSeccompEarly, steps::load_seccomp_early},
      {ChildStep::kDropBoundingSetEarly, steps::drop_bounding_set},
      {ChildStep::kWaitForSetup, steps::wait_for_setup},
  }};
  return kSteps;
}

std::span<const Step> task_steps() {
  static constexpr std::array<Step, 20> kSteps{{
      {ChildStep::kTaskChdir, steps::task_chdir},
      {ChildStep::kUnblockSignals, steps::unblock_signals},
      {ChildStep::kNewSession, steps::new_session},
      {ChildStep::kSetRlimits, steps::set_rlimits},
      {ChildStep::kSetOomScoreAdj, steps::set_oom_score_adj},
      {ChildStep::kLoadSeccompPrivileged, steps::load_seccomp_privileged},
      {ChildStep::kDropBoundingSet, steps::drop_bounding_set_late},
      {ChildStep::kKeepCaps, steps::keep_caps},
      {ChildStep::kSetGroups, steps::set_groups},
      {ChildStep::kSetGid, steps::set_gid},
      {ChildStep::kSetUid, steps::set_uid},
      {ChildStep::kSetCapabilities, steps::set_capabilities},
      {ChildStep::kSetAmbientCaps, steps::set_ambient_caps},
      {ChildStep::kDieWithInit, steps::die_with_init},
      {ChildStep::kNoNewPrivs, steps::no_new_privs},
      {ChildStep::kSetUmask, steps::set_umask},
      {ChildStep::kCloseFds, steps::close_fds},
      {ChildStep::kWaitForStart, steps::wait_for_start},
      {ChildStep::kLoadSeccomp, steps::load_seccomp},
      {ChildStep::kExecve, steps::exec_task},
  }};
  return kSteps;
}

void run_task(const ChildPlan& plan, ChildState& state) {
  if (state.setup_done != nullptr) raw::run_steps(early_task_steps(), plan, state, kTaskExecFailed);
  raw::run_steps(task_steps(), plan, state, kTaskExecFailed);
  raw::exit_now(kTaskExecFailed);  // exec_task returns only on failure, reported above
}

}  // namespace berth::launcher
