#pragma once
// Helpers shared by the launcher tests: temp dirs, files, and waiting on pidfds.

#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "berth/launcher/launcher.hpp"
#include "support/temp_dir.hpp"

namespace berth::launcher::testing {

using berth::testing::slurp;
using berth::testing::TempDir;
using berth::testing::write_text;

// The numbers in a /proc/<pid>/fd directory.
inline std::set<int> open_fds(const std::filesystem::path& fd_dir) {
  std::set<int> fds;
  for (const auto& entry : std::filesystem::directory_iterator(fd_dir)) fds.insert(std::stoi(entry.path().filename()));
  return fds;
}

// True once the process behind `pidfd` has exited (pidfds poll readable then).
inline bool wait_exited(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{.fd = pidfd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// True if this process has no child left, exited or running.
inline bool has_no_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
}

// Pids of the live processes whose working directory is under `dir`: what a
// test without a cgroup can use to see that none of its tasks escaped.
inline std::vector<pid_t> processes_in(const std::filesystem::path& dir) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    auto cwd = std::filesystem::read_symlink(entry.path() / "cwd", ec).string();
    auto stat = slurp(entry.path() / "stat");
    bool zombie = stat.find(") Z ") != std::string::npos;
    if (!ec && !zombie && cwd.starts_with(dir.string())) found.push_back(std::stoi(name));
  }
  return found;
}

// Waits up to `timeout` for processes_in(dir) to be empty.
inline bool no_processes_in(const std::filesystem::path& dir, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!processes_in(dir).empty()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ::usleep(5000);
  }
  return true;
}

// A request running `argv` as the caller, on the host's root, starting in
// `dir` with its files there, no namespaces, no cgroup.
inline LaunchRequest basic_request(const TempDir& dir, std::vector<std::string> argv) {
  LaunchRequest request;
  request.container_id = "test";
  request.spec.process.args = std::move(argv);
  request.spec.process.env = {"PATH=/usr/bin:/bin", "HOME=/"};
  request.spec.process.cwd = dir.path().string();
  request.spec.process.user.uid = ::getuid();
  request.spec.process.user.gid = ::getgid();
  request.stdout_path = dir / "stdout";
  request.stderr_path = dir / "stderr";
  request.runtime_dir = dir.path();
  return request;
}

// Adds new namespaces of these types to `spec`.
inline void add_namespaces(oci::Spec& spec, std::initializer_list<int> types) {
  for (int type : types) spec.linux_config.namespaces.push_back({type, {}});
}

}  // namespace berth::launcher::testing
