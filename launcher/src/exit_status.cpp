#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>

#include "berth/launcher/launcher.hpp"

namespace berth::launcher {

std::string ExitStatus::describe() const {
  if (!signaled) return "exited with status " + std::to_string(code);
  std::string text = "killed by signal " + std::to_string(code);
  if (const char* abbrev = ::sigabbrev_np(code)) text += std::string(" (SIG") + abbrev + ")";
  return text;
}

Result<ExitStatus> decode_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) return ExitStatus{.signaled = false, .code = WEXITSTATUS(wait_status)};
  if (WIFSIGNALED(wait_status)) return ExitStatus{.signaled = true, .code = WTERMSIG(wait_status)};
  return fail("wait status " + std::to_string(wait_status) + " is neither an exit nor a kill");
}

namespace {

Result<std::string> read_small_file(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", file);
  char buffer[64];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
  if (n < 0) return fail_sys("read", file);
  return std::string(buffer, static_cast<std::size_t>(n));
}

}  // namespace

Result<ExitStatus> read_exit_notice(int exit_notice_fd) {
  int wait_status = 0;
  ssize_t n;
  while ((n = ::read(exit_notice_fd, &wait_status, sizeof wait_status)) < 0 && errno == EINTR) {
  }
  if (n < 0) return fail_sys("read exit notice");
  if (n == 0) return fail(Error("the container's init ended without an exit notice", EAGAIN));
  if (n != sizeof wait_status) return fail(Error("truncated exit notice", EIO));
  return decode_wait_status(wait_status);
}

Result<ExitStatus> read_exit_status(const std::filesystem::path& runtime_dir) {
  auto file = runtime_dir / kExitStatusFile;
  BERTH_TRY(auto text, read_small_file(file));
  std::string_view digits(text);
  if (digits.ends_with('\n')) digits.remove_suffix(1);
  int status = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || status < 0) {
    return fail(Error("corrupt exit status \"" + text + "\" in", 0, file.string()));
  }
  auto decoded = decode_wait_status(status);
  if (!decoded) return fail(Error(decoded.error().message() + " in", 0, file.string()));
  return decoded;
}

}  // namespace berth::launcher
