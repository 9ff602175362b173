// The reading end of a gated container's start gate (see launcher.hpp).

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "berth/launcher/launcher.hpp"

namespace berth::launcher::start_gate {

Result<void> open(const std::filesystem::path& runtime_dir, int init_pidfd, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  auto gate = runtime_dir / kStartGateFile;
  // Non-blocking, so that an init that has died cannot hang the open; init's
  // own blocking open for writing returns as soon as this one is made.
  UniqueFd fifo(::open(gate.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return fail_sys("open start gate", gate);
  pollfd fds[2] = {{fifo.get(), POLLIN, 0}, {init_pidfd, POLLIN, 0}};
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return fail(Error("the container's init did not pass its start gate within " + std::to_string(timeout.count()) +
                            " ms",
                        ETIMEDOUT, gate));
    }
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("poll start gate", gate);
    char byte;
    if ((fds[0].revents & POLLIN) && ::read(fifo.get(), &byte, 1) == 1) break;
    if (fds[1].revents & POLLIN) return fail(Error("the container's init exited before start", ESRCH, gate));
  }
  if (::unlink(gate.c_str()) != 0) return fail_sys("unlink start gate", gate);
  return {};
}

}  // namespace berth::launcher::start_gate
