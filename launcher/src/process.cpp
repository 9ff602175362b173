// Watching a container's init: reaping it, re-attaching to it after a restart.

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "berth/launcher/launcher.hpp"

namespace berth::launcher {

Result<ExitStatus> reap(int pidfd) {
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) != 0) {
    if (errno != EINTR) return fail_sys("waitid");
  }
  switch (info.si_code) {
    case CLD_EXITED: return ExitStatus{.signaled = false, .code = info.si_status};
    case CLD_KILLED:
    case CLD_DUMPED: return ExitStatus{.signaled = true, .code = info.si_status};
    default: return fail("waitid: unexpected si_code " + std::to_string(info.si_code));
  }
}

Result<std::uint64_t> process_start_time(pid_t pid) {
  auto file = "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(file);
  std::string stat;
  if (!in || !std::getline(in, stat)) return fail(Error("read", ESRCH, file));
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return fail(Error("unexpected format of", 0, file));
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  constexpr int kFieldsFromStateToStartTime = 20;  // fields 3 (state) .. 22 (starttime)
  for (int i = 0; i < kFieldsFromStateToStartTime && fields >> field; ++i) {
  }
  std::uint64_t start_time = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), start_time);
  if (!fields || ec != std::errc() || end != field.data() + field.size()) {
    return fail(Error("no start time in", 0, file));
  }
  return start_time;
}

Result<UniqueFd> attach(pid_t pid, std::uint64_t start_time) {
  // Open first, check second: if the start time still matches after the pidfd
  // exists, the pidfd is that process and no later reuse of the pid can change it.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return fail_sys("pidfd_open", std::to_string(pid));
  auto actual = process_start_time(pid);
  if (!actual) return fail(Error("process is gone", ESRCH, std::to_string(pid)));
  if (*actual != start_time) {
    return fail(Error("pid " + std::to_string(pid) + " was reused: start time " + std::to_string(*actual) +
                      ", expected " + std::to_string(start_time)));
  }
  return pidfd;
}

}  // namespace berth::launcher
