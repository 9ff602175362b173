// The task's limits and credentials, between init's fork and execve: rlimits,
// oom_score_adj, then groups, ids and capabilities, then no_new_privs and umask.
// The order is the kernel's: dropping from the bounding set needs
// CAP_SETPCAP (so before setuid), setuid clears the effective set unless
// PR_SET_KEEPCAPS, and a change of uid clears the parent-death signal and
// makes /proc/self root's.

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "berth/launcher/child_steps.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {

namespace {

std::size_t format_signed(int value, char* out) {
  if (value >= 0) return init::format_decimal(static_cast<unsigned>(value), out);
  out[0] = '-';
  return 1 + init::format_decimal(0U - static_cast<unsigned>(value), out + 1);
}

bool has_cap(std::uint64_t mask, int cap) { return (mask >> cap) & 1U; }

}  // namespace

using raw::sys;

namespace steps {

// No CAP_SYS_RESOURCE: raising a hard limit fails with EPERM, reported as such.
int set_rlimits(const ChildPlan& plan, ChildState& state) {
  const auto& rlimits = plan.spec().process.rlimits;
  for (std::uint32_t i = 0; i < rlimits.size(); ++i) {
    state.failed_index = i;
    rlimit limit{rlimits[i].soft, rlimits[i].hard};
    if (long r = sys(__NR_prlimit64, 0, rlimits[i].resource, reinterpret_cast<long>(&limit)); r < 0) return raw::error_of(r);
  }
  return 0;
}

int set_oom_score_adj(const ChildPlan& plan, ChildState&) {
  const auto& adj = plan.spec().process.oom_score_adj;
  if (!adj) return 0;
  char text[16];
  std::size_t length = format_signed(*adj, text);
  long fd = sys(__NR_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/oom_score_adj"), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return raw::error_of(fd);
  long written = sys(__NR_write, fd, reinterpret_cast<long>(text), static_cast<long>(length));
  sys(__NR_close, fd);
  return raw::error_of(written);
}

int drop_bounding_set(const ChildPlan& plan, ChildState& state) {
  if (!plan.capabilities()) return 0;
  for (int cap = 0; cap <= plan.last_capability(); ++cap) {
    if (has_cap(plan.capabilities()->bounding, cap)) continue;
    state.failed_index = static_cast<std::uint32_t>(cap);
    if (long r = sys(__NR_prctl, PR_CAPBSET_DROP, cap); r < 0) return raw::error_of(r);
  }
  return 0;
}

int drop_bounding_set_late(const ChildPlan& plan, ChildState& state) {
  return plan.task_forks_early() ? 0 : drop_bounding_set(plan, state);
}

int keep_caps(const ChildPlan& plan, ChildState&) {
  if (!plan.capabilities()) return 0;
  return raw::error_of(sys(__NR_prctl, PR_SET_KEEPCAPS, 1));
}

// With a user namespace and no additional gids the parent wrote "deny" to
// setgroups (the kernel then refuses setgroups); the maps give no groups anyway.
int set_groups(const ChildPlan& plan, ChildState&) {
  const auto& gids = plan.additional_gids();
  if (gids.empty() && plan.has_namespace(CLONE_NEWUSER)) return 0;
  long r = sys(__NR_setgroups, static_cast<long>(gids.size()), reinterpret_cast<long>(gids.data()));
  // An unprivileged launcher cannot clear its groups, but has none to clear.
  if (r == -EPERM && gids.empty() && sys(__NR_getgroups, 0, 0) == 0) return 0;
  return raw::error_of(r);
}

int set_gid(const ChildPlan& plan, ChildState&) {
  auto gid = plan.spec().process.user.gid;
  return raw::error_of(sys(__NR_setresgid, gid, gid, gid));
}

int set_uid(const ChildPlan& plan, ChildState&) {
  auto uid = plan.spec().process.user.uid;
  return raw::error_of(sys(__NR_setresuid, uid, uid, uid));
}

int set_capabilities(const ChildPlan& plan, ChildState&) {
  if (!plan.capabilities()) return 0;
  const auto& caps = *plan.capabilities();
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  for (int word = 0; word < _LINUX_CAPABILITY_U32S_3; ++word) {
    int shift = 32 * word;
    data[word].effective = static_cast<std::uint32_t>(caps.effective >> shift);
    data[word].permitted = static_cast<std::uint32_t>(caps.permitted >> shift);
    data[word].inheritable = static_cast<std::uint32_t>(caps.inheritable >> shift);
  }
  return raw::error_of(sys(__NR_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data)));
}

// An ambient capability must be permitted and inheritable: after capset.
int set_ambient_caps(const ChildPlan& plan, ChildState& state) {
  if (!plan.capabilities()) return 0;
  if (long r = sys(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL); r < 0) return raw::error_of(r);
  for (int cap = 0; cap <= plan.last_capability(); ++cap) {
    if (!has_cap(plan.capabilities()->ambient, cap)) continue;
    state.failed_index = static_cast<std::uint32_t>(cap);
    if (long r = sys(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap); r < 0) return raw::error_of(r);
  }
  return 0;
}

int no_new_privs(const ChildPlan& plan, ChildState&) {
  if (!plan.spec().process.no_new_privileges) return 0;
  return raw::error_of(sys(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1));
}

int set_umask(const ChildPlan& plan, ChildState&) {
  if (const auto& mask = plan.spec().process.user.umask) sys(__NR_umask, *mask & 0777);
  return 0;
}

}  // namespace steps

}  // namespace berth::launcher
