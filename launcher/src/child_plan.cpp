#include "berth/launcher/child_plan.hpp"

#include <limits.h>
#include <sched.h>

#include <array>
#include <ranges>

namespace berth::launcher {

namespace {

// Namespaces the child can set up on its own. A user namespace would need
// uid/gid maps written by the parent, which this launcher does not do.
constexpr int kSupportedNamespaces =
    CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;

// execvpe(3)'s default when the environment has no PATH.
constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

constexpr std::array<std::string_view, kChildStepCount> kStepNames = {
    "open runtime dir", "isolate fds", "reset signals", "set subreaper", "make mounts private", "mount proc",
    "sethostname",      "open stdin",  "open stdout",   "open stderr",   "chdir",               "fork task",
    "unblock signals",  "set parent death signal", "setsid", "close fds", "execve",
};

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

Result<void> check_string(std::string_view what, std::string_view value) {
  if (value.empty()) return fail(std::string(what) + " is empty");
  if (has_nul(value)) return fail(std::string(what) + " contains a NUL byte");
  return {};
}

std::string_view path_variable(const std::vector<std::string>& env) {
  // Like getenv, the first definition wins.
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) return std::string_view(entry).substr(5);
  }
  return kDefaultPath;
}

std::vector<char*> null_terminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

std::string_view step_name(ChildStep step) {
  auto index = static_cast<std::uint32_t>(step);
  return index < kStepNames.size() ? kStepNames[index] : "unknown step";
}

Result<void> validate(const LaunchRequest& request) {
  if (request.argv.empty()) return fail("argv is empty");
  BERTH_TRY_VOID(check_string("argv[0]", request.argv[0]));
  for (const auto& arg : request.argv) {
    if (has_nul(arg)) return fail("argv contains a NUL byte");
  }
  for (const auto& entry : request.env) {
    if (has_nul(entry) || entry.find('=') == std::string::npos) return fail("env entry is not KEY=VALUE: " + entry);
  }
  BERTH_TRY_VOID(check_string("working_dir", request.working_dir.native()));
  BERTH_TRY_VOID(check_string("stdout_path", request.stdout_path.native()));
  BERTH_TRY_VOID(check_string("stderr_path", request.stderr_path.native()));
  BERTH_TRY_VOID(check_string("runtime_dir", request.runtime_dir.native()));
  if ((request.namespaces & ~kSupportedNamespaces) != 0) {
    return fail("unsupported namespace flags " + std::to_string(request.namespaces & ~kSupportedNamespaces));
  }
  if (!request.hostname.empty()) {
    if (!(request.namespaces & CLONE_NEWUTS)) return fail("a hostname needs a new UTS namespace (CLONE_NEWUTS)");
    if (request.hostname.size() > HOST_NAME_MAX || has_nul(request.hostname)) {
      return fail("invalid hostname \"" + request.hostname + "\"");
    }
  }
  return {};
}

std::vector<std::string> exec_candidates(const std::string& program, const std::vector<std::string>& env) {
  if (program.find('/') != std::string::npos) return {program};
  std::vector<std::string> candidates;
  for (auto dir : std::views::split(path_variable(env), ':')) {
    std::string_view d(dir.begin(), dir.end());
    // An empty PATH element means the current directory.
    candidates.push_back(std::string(d.empty() ? "." : d) + "/" + program);
  }
  return candidates;
}

ChildPlan::ChildPlan(const LaunchRequest& request)
    : request_(request), candidates_(launcher::exec_candidates(request.argv.at(0), request.env)) {
  argv_ = null_terminated(request_.argv);
  envp_ = null_terminated(request_.env);
  for (const auto& c : candidates_) candidate_ptrs_.push_back(c.c_str());
}

std::string ChildPlan::path_for(ChildStep step) const {
  switch (step) {
    case ChildStep::kOpenRuntimeDir: return request_.runtime_dir;
    case ChildStep::kMountProc: return "/proc";
    case ChildStep::kSetHostname: return request_.hostname;
    case ChildStep::kOpenStdin: return "/dev/null";
    case ChildStep::kOpenStdout: return request_.stdout_path;
    case ChildStep::kOpenStderr: return request_.stderr_path;
    case ChildStep::kChdir: return request_.working_dir;
    case ChildStep::kExecve: return request_.argv.at(0);
    default: return {};
  }
}

}  // namespace berth::launcher
