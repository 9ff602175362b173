#pragma once
// Operations on one cgroup v2 directory. Every function takes the directory,
// never assumes /sys/fs/cgroup, so everything but the kernel's own behaviour
// (cgroup.kill, populated notifications) is testable against a temp directory
// of fixture files.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/isolator.hpp"

namespace berth::isolators::cgroupfs {

// How long destroy() waits for the processes of a killed cgroup to exit.
inline constexpr std::chrono::milliseconds kDrainTimeout{10'000};

// Error unless `dir` is on a cgroup2 filesystem (statfs CGROUP2_SUPER_MAGIC).
Result<void> check_cgroup2(const std::filesystem::path& dir);

// The top of the cgroup2 mount `dir` is in (the highest cgroup2 directory above it).
Result<std::filesystem::path> mount_of(const std::filesystem::path& dir);

// Under a service manager that delegates a cgroup to the daemon (systemd's
// Delegate=yes), the daemon's own cgroup is where its containers go, and a
// cgroup with processes cannot pass domain controllers on to children. When
// `root` lies below the calling process's own cgroup, the process moves
// itself into the leaf `<own cgroup>/<leaf>` (made if missing) and that is
// returned; otherwise nothing moves and nullopt is returned.
Result<std::optional<std::filesystem::path>> leave_for_leaf(const std::filesystem::path& root,
                                                           std::string_view leaf = "agent");

Result<std::string> read_file(const std::filesystem::path& file);
// Writes `value` in one write(2): cgroupfs parses each write on its own.
Result<void> write_file(const std::filesystem::path& file, std::string_view value);

// The space-separated names in `dir`/cgroup.controllers.
Result<std::vector<std::string>> read_controllers(const std::filesystem::path& dir);
// The space-separated names in `dir`/cgroup.subtree_control: the controllers
// `dir`'s children get.
Result<std::vector<std::string>> read_subtree_control(const std::filesystem::path& dir);
// Writes "+a +b" to `dir`/cgroup.subtree_control so children get those controllers.
Result<void> enable_controllers(const std::filesystem::path& dir, const std::vector<std::string>& names);

// Names of the child cgroups (subdirectories) of `dir`, sorted.
Result<std::vector<std::string>> list_children(const std::filesystem::path& dir);

// cpu.stat, plus memory.current and pids.current when present; without
// pids.current the processes listed in cgroup.procs are counted.
Result<Usage> read_usage(const std::filesystem::path& dir);

// The "populated" key of `dir`/cgroup.events: true while any process lives
// in the cgroup or its descendants (zombies do not count).
Result<bool> is_populated(const std::filesystem::path& dir);

// Writes 1 to cgroup.kill: SIGKILL to every process of the subtree, including
// ones forking concurrently.
Result<void> kill_all(const std::filesystem::path& dir);

// Blocks until `dir` is no longer populated, woken by inotify on cgroup.events.
Result<void> wait_unpopulated(const std::filesystem::path& dir, std::chrono::milliseconds timeout);

// rmdir of `dir` and its child cgroups, deepest first. A missing `dir` is fine.
Result<void> remove_tree(const std::filesystem::path& dir);

// kill_all + wait_unpopulated + remove_tree. A missing `dir` is fine.
Result<void> destroy(const std::filesystem::path& dir, std::chrono::milliseconds timeout = kDrainTimeout);

}  // namespace berth::isolators::cgroupfs
