// The task process, between init's fork and execve.

#include <signal.h>
#include <sys/prctl.h>

#include <array>
#include <cstdint>

#include "berth/launcher/child_steps.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {

namespace steps {

int unblock_signals(const ChildPlan&, ChildState&) {
  std::uint64_t none = 0;
  return raw::errno_of(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none));
}

// init is the container: without a pid namespace nothing else would take the
// task down when init is killed. (init itself has no parent-death signal: it
// must outlive the agent.) After setresuid, which clears the signal.
int die_with_init(const ChildPlan&, ChildState& state) {
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return errno;
  // init may have died before the prctl took effect.
  return syscall(SYS_getppid) == state.init_pid ? 0 : ESRCH;
}

// Its own session and process group: detached from any terminal of the agent,
// and a unit for signalling the task with its children.
int new_session(const ChildPlan&, ChildState&) { return raw::errno_of(syscall(SYS_setsid)); }

// Close-on-exec rather than close, so the error pipe stays usable until execve.
int close_fds(const ChildPlan&, ChildState&) {
  return raw::errno_of(syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC));
}

// execvpe(3)'s search: a missing candidate moves on to the next one; EACCES is
// reported only if no later candidate runs.
int exec_task(const ChildPlan& plan, ChildState&) {
  int error = ENOENT;
  bool denied = false;
  for (const char* candidate : plan.exec_candidates()) {
    syscall(SYS_execve, candidate, plan.argv(), plan.envp());
    error = errno;
    if (error == EACCES) {
      denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE) {
      return error;
    }
  }
  return denied ? EACCES : error;
}

}  // namespace steps

std::span<const Step> task_steps() {
  static constexpr std::array<Step, 18> kSteps{{
      {ChildStep::kUnblockSignals, steps::unblock_signals},
      {ChildStep::kNewSession, steps::new_session},
      {ChildStep::kSetRlimits, steps::set_rlimits},
      {ChildStep::kSetOomScoreAdj, steps::set_oom_score_adj},
      {ChildStep::kLoadSeccompPrivileged, steps::load_seccomp_privileged},
      {ChildStep::kDropBoundingSet, steps::drop_bounding_set},
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
      {ChildStep::kLoadSeccomp, steps::load_seccomp},
      {ChildStep::kExecve, steps::exec_task},
  }};
  return kSteps;
}

void run_task(const ChildPlan& plan, ChildState& state) {
  raw::run_steps(task_steps(), plan, state, kTaskExecFailed);
  raw::exit_now(kTaskExecFailed);  // exec_task returns only on failure, reported above
}

}  // namespace berth::launcher
