#pragma once
// Network namespaces by descriptor, for the calling thread only: unshare and
// setns change the namespaces of the thread that calls them, so another
// thread's work is never affected.

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"

namespace berth::netns {

// The calling thread's network namespace.
Result<UniqueFd> current();

// One fresh network namespace: unshare in this thread, keep a descriptor,
// return to the namespace `home` refers to. A thread that cannot return
// aborts the process rather than go on working in the wrong namespace.
Result<UniqueFd> make(int home);

// Runs the calling thread in namespace `fd` until destroyed (then back to
// where it was, or abort). Sockets opened meanwhile stay in `fd`'s namespace.
class Enter {
 public:
  static Result<Enter> into(int fd);
  Enter(Enter&& other) noexcept = default;
  Enter& operator=(Enter&&) = delete;
  Enter(const Enter&) = delete;
  ~Enter();

 private:
  explicit Enter(UniqueFd home) : home_(std::move(home)) {}
  UniqueFd home_;
};

}  // namespace berth::netns
