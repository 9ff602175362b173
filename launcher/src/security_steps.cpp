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
  std::size_t length = 0;
  unsigned magnitude = value < 0 ? 0U - static_cast<unsigned>(value) : static_cast<unsigned>(value);
  if (value < 0) out[length++] = '-';
  char digits[16];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  while (count > 0) out[length++] = digits[--count];
  return length;
}

bool has_cap(std::uint64_t mask, int cap) { return (mask >> cap) & 1U; }

}  // namespace

namespace steps {

// No CAP_SYS_RESOURCE: raising a hard limit fails with EPERM, reported as such.
int set_rlimits(const ChildPlan& plan, ChildState& state) {
  const auto& rlimits = plan.spec().process.rlimits;
  for (std::uint32_t i = 0; i < rlimits.size(); ++i) {
    state.failed_index = i;
    rlimit limit{rlimits[i].soft, rlimits[i].hard};
    if (syscall(SYS_prlimit64, 0, rlimits[i].resource, &limit, nullptr) < 0) return errno;
  }
  return 0;
}

int set_oom_score_adj(const ChildPlan& plan, ChildState&) {
  const auto& adj = plan.spec().process.oom_score_adj;
  if (!adj) return 0;
  char text[16];
  std::size_t length = format_signed(*adj, text);
  long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  long written = syscall(SYS_write, fd, text, length);
  int error = written < 0 ? errno : 0;
  syscall(SYS_close, fd);
  return error;
}

int drop_bounding_set(const ChildPlan& plan, ChildState& state) {
  if (!plan.capabilities()) return 0;
  for (int cap = 0; cap <= plan.last_capability(); ++cap) {
    if (has_cap(plan.capabilities()->bounding, cap)) continue;
    state.failed_index = static_cast<std::uint32_t>(cap);
    if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return errno;
  }
  return 0;
}

int keep_caps(const ChildPlan& plan, ChildState&) {
  if (!plan.capabilities()) return 0;
  return raw::errno_of(syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0));
}

// With a user namespace and no additional gids the parent wrote "deny" to
// setgroups (the kernel then refuses setgroups); the maps give no groups anyway.
int set_groups(const ChildPlan& plan, ChildState&) {
  const auto& gids = plan.additional_gids();
  if (gids.empty() && plan.has_namespace(CLONE_NEWUSER)) return 0;
  if (syscall(SYS_setgroups, gids.size(), gids.data()) == 0) return 0;
  // An unprivileged launcher cannot clear its groups, but has none to clear.
  if (errno == EPERM && gids.empty() && syscall(SYS_getgroups, 0, nullptr) == 0) return 0;
  return errno;
}

int set_gid(const ChildPlan& plan, ChildState&) {
  auto gid = plan.spec().process.user.gid;
  return raw::errno_of(syscall(SYS_setresgid, gid, gid, gid));
}

int set_uid(const ChildPlan& plan, ChildState&) {
  auto uid = plan.spec().process.user.uid;
  return raw::errno_of(syscall(SYS_setresuid, uid, uid, uid));
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
  return raw::errno_of(syscall(SYS_capset, &header, data));
}

// An ambient capability must be permitted and inheritable: after capset.
int set_ambient_caps(const ChildPlan& plan, ChildState& state) {
  if (!plan.capabilities()) return 0;
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return errno;
  for (int cap = 0; cap <= plan.last_capability(); ++cap) {
    if (!has_cap(plan.capabilities()->ambient, cap)) continue;
    state.failed_index = static_cast<std::uint32_t>(cap);
    if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return errno;
  }
  return 0;
}

int no_new_privs(const ChildPlan& plan, ChildState&) {
  if (!plan.spec().process.no_new_privileges) return 0;
  return raw::errno_of(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

int set_umask(const ChildPlan& plan, ChildState&) {
  if (const auto& mask = plan.spec().process.user.umask) syscall(SYS_umask, *mask & 0777);
  return 0;
}

}  // namespace steps

}  // namespace berth::launcher
