#include "berth/common/netns.hpp"

#include <fcntl.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>

#include "berth/common/log.hpp"

namespace berth::netns {

namespace {

[[noreturn]] void stranded() {
  // A thread stuck in a namespace it only visited must not do more there.
  log::error("Cannot return to the home network namespace: {}", std::strerror(errno));
  std::abort();
}

}  // namespace

Result<UniqueFd> current() {
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", "/proc/thread-self/ns/net");
  return fd;
}

Result<UniqueFd> make(int home) {
  if (::unshare(CLONE_NEWNET) != 0) return fail_sys("unshare(CLONE_NEWNET)");
  auto fresh = current();
  if (::setns(home, CLONE_NEWNET) != 0) stranded();
  return fresh;
}

Result<Enter> Enter::into(int fd) {
  BERTH_TRY(auto home, current());
  if (::setns(fd, CLONE_NEWNET) != 0) return fail_sys("setns(CLONE_NEWNET)");
  return Enter(std::move(home));
}

Enter::~Enter() {
  if (home_ && ::setns(home_.get(), CLONE_NEWNET) != 0) stranded();
}

}  // namespace berth::netns
