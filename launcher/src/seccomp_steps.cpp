// Loading the task's seccomp filter, already compiled by the parent.
//
// A filter that allows every system call the task makes after it (the
// plan checks) is loaded first thing, by the task forked beside init's setup,
// off the launch's critical path; otherwise:
//
// With no_new_privs the filter goes on last, just before execve, so none of
// the setup's own system calls has to be allowed by it. Without no_new_privs
// the kernel only lets a process holding CAP_SYS_ADMIN install a filter, which
// a task switching to another uid loses: the filter then goes on before the
// credentials change, and must allow what follows (setresuid, capset, prctl,
// execve), as Docker's default profile does.

#include <linux/seccomp.h>

#include "berth/launcher/child_steps.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {

namespace {

int load(const ChildPlan& plan) {
  return raw::error_of(
      raw::sys(__NR_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccomp_flags(), reinterpret_cast<long>(plan.seccomp())));
}

}  // namespace

namespace steps {

int load_seccomp_early(const ChildPlan& plan, ChildState& state) {
  if (!plan.seccomp_early()) return 0;
  // With no_new_privs the kernel takes the filter from a task without
  // CAP_SYS_ADMIN, as it does at the end: set now, it changes nothing
  // before execve.
  if (int error = no_new_privs(plan, state); error != 0) return error;
  return load(plan);
}

int load_seccomp_privileged(const ChildPlan& plan, ChildState&) {
  if (plan.seccomp() == nullptr || plan.seccomp_early() || plan.spec().process.no_new_privileges) return 0;
  return load(plan);
}

int load_seccomp(const ChildPlan& plan, ChildState&) {
  if (plan.seccomp() == nullptr || plan.seccomp_early() || !plan.spec().process.no_new_privileges) return 0;
  return load(plan);
}

}  // namespace steps

}  // namespace berth::launcher
