#pragma once
// What the launch child needs, prepared before clone3. Between clone3 and
// execve the child may not allocate or take a lock (another thread of the
// parent may have held the malloc lock at clone time), so every string and
// array it uses is built here, in the parent.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/launcher/launcher.hpp"

namespace berth::launcher {

// Every step of the child's setup, init's then the task's, in order. The
// failing step travels to the parent with its errno.
enum class ChildStep : std::uint32_t {
  kOpenRuntimeDir,
  kIsolateFds,
  kResetSignals,
  kBecomeSubreaper,
  kMakeMountsPrivate,
  kMountProc,
  kSetHostname,
  kOpenStdin,
  kOpenStdout,
  kOpenStderr,
  kChdir,
  kForkTask,
  kUnblockSignals,
  kDieWithInit,
  kNewSession,
  kCloseFds,
  kExecve,
};
inline constexpr std::uint32_t kChildStepCount = static_cast<std::uint32_t>(ChildStep::kExecve) + 1;

// The name a failure of `step` is reported under ("execve", "chdir", ...).
std::string_view step_name(ChildStep step);

// What the child writes to the error pipe before exiting.
struct ChildFailure {
  std::uint32_t step = 0;
  std::int32_t error = 0;
};

// Checks what would make the child fail in a way it cannot report, or do
// something harmful (a hostname without a new UTS namespace would rename the host).
Result<void> validate(const LaunchRequest& request);

// Where execve tries argv[0], in order, like execvpe(3): as given when it
// contains a '/', else each directory of PATH from `env` (default PATH if none).
std::vector<std::string> exec_candidates(const std::string& program, const std::vector<std::string>& env);

// Not movable: the pointer arrays point into its own strings.
class ChildPlan {
 public:
  explicit ChildPlan(const LaunchRequest& request);
  ChildPlan(const ChildPlan&) = delete;
  ChildPlan& operator=(const ChildPlan&) = delete;

  const LaunchRequest& request() const { return request_; }
  int namespaces() const { return request_.namespaces; }
  const char* runtime_dir() const { return request_.runtime_dir.c_str(); }
  const char* working_dir() const { return request_.working_dir.c_str(); }
  const char* stdout_path() const { return request_.stdout_path.c_str(); }
  const char* stderr_path() const { return request_.stderr_path.c_str(); }
  const std::string& hostname() const { return request_.hostname; }
  char* const* argv() const { return argv_.data(); }
  char* const* envp() const { return envp_.data(); }
  std::span<const char* const> exec_candidates() const { return candidate_ptrs_; }

  // The path a failure of `step` is about, for the parent's error.
  std::string path_for(ChildStep step) const;

 private:
  LaunchRequest request_;
  std::vector<std::string> candidates_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
  std::vector<const char*> candidate_ptrs_;
};

}  // namespace berth::launcher
