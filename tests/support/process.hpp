#pragma once
// Real processes for end-to-end tests: spawned with posix_spawn, output to a
// log file, killed and reaped when the handle goes away.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace berth::testing {

class Process {
 public:
  // argv[0] is a path. stdout and stderr go to `log` (appended).
  static Process spawn(const std::vector<std::string>& argv, const std::filesystem::path& log,
                       const std::vector<std::string>& extra_env = {});
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int signal) const;
  // The exit code (128+N when killed by signal N), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Sends `signal`, waits, and SIGKILLs if it did not stop in time.
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a command to completion (killed after `timeout`), capturing stdout and stderr separately.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::vector<std::string>& extra_env = {});

std::uint16_t free_port();
// Whether process `pid` holds a TCP socket listening on `port`: a daemon
// told to use a port another process took fails to bind, while a probe of
// the port gets the other one's answers.
bool listens_on(pid_t pid, std::uint16_t port);
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(50));
std::string read_file(const std::filesystem::path& path);
bool is_root();

}  // namespace berth::testing
