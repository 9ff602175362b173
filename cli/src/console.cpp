#include "console.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace berth::cli {

void Console::status(std::string_view line) const {
  if (quiet_) return;
  std::string text(line);
  text += '\n';
  write_all(err_fd_, text);
}

void Console::notice(std::string_view text) const {
  std::string line = "berth: ";
  line += text;
  line += '\n';
  write_all(err_fd_, line);
}

void Console::write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return;
    pollfd waiting{.fd = fd, .events = POLLOUT, .revents = 0};
    (void)::poll(&waiting, 1, -1);
  }
}

}  // namespace berth::cli
