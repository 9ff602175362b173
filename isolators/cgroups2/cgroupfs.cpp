#include "berth/isolators/cgroupfs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include "berth/common/fd.hpp"

namespace berth::isolators::cgroupfs {
namespace fs = std::filesystem;

namespace {

Result<std::uint64_t> parse_u64(std::string_view text, const fs::path& file) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return fail(Error("not a number: \"" + std::string(text) + "\"", 0, file.string()));
  }
  return value;
}

// A file that may be absent because its controller is not enabled here.
Result<std::optional<std::uint64_t>> read_optional_u64(const fs::path& file) {
  auto text = read_file(file);
  if (!text) {
    if (text.error().code() == ENOENT) return std::nullopt;
    return std::unexpected(std::move(text).error());
  }
  BERTH_TRY(auto value, parse_u64(*text, file));
  return value;
}

// "key value" lines, as in cpu.stat and cgroup.events.
std::optional<std::uint64_t> flat_key(std::string_view text, std::string_view key) {
  std::istringstream lines{std::string(text)};
  std::string name;
  std::uint64_t value = 0;
  while (lines >> name >> value) {
    if (name == key) return value;
  }
  return std::nullopt;
}

Result<std::uint64_t> count_lines(const fs::path& file) {
  BERTH_TRY(auto text, read_file(file));
  return static_cast<std::uint64_t>(std::ranges::count(text, '\n'));
}

Result<void> fill_cpu(const fs::path& dir, Usage& usage) {
  BERTH_TRY(auto stat, read_file(dir / "cpu.stat"));
  usage.cpu_usage_usec = flat_key(stat, "usage_usec").value_or(0);
  usage.cpu_user_usec = flat_key(stat, "user_usec").value_or(0);
  usage.cpu_system_usec = flat_key(stat, "system_usec").value_or(0);
  return {};
}

Result<void> fill_pids(const fs::path& dir, Usage& usage) {
  BERTH_TRY(auto pids, read_optional_u64(dir / "pids.current"));
  if (pids) {
    usage.pids_current = *pids;
    return {};
  }
  BERTH_TRY(usage.pids_current, count_lines(dir / "cgroup.procs"));
  return {};
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> names;
  for (std::string name; in >> name;) names.push_back(name);
  return names;
}

}  // namespace

Result<void> check_cgroup2(const fs::path& dir) {
  struct statfs info {};
  if (::statfs(dir.c_str(), &info) != 0) return fail_sys("statfs", dir);
  if (info.f_type != CGROUP2_SUPER_MAGIC) {
    return fail(Error("not a cgroup v2 filesystem (mount cgroup2 there, or pick a directory under it)", 0,
                      dir.string()));
  }
  return {};
}

Result<std::string> read_file(const fs::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", file);
  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("read", file);
    if (n == 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

Result<void> write_file(const fs::path& file, std::string_view value) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return fail_sys("open", file);
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return fail_sys("write \"" + std::string(value) + "\" to", file);
  if (static_cast<std::size_t>(n) != value.size()) return fail(Error("short write", EIO, file.string()));
  return {};
}

Result<std::vector<std::string>> read_controllers(const fs::path& dir) {
  BERTH_TRY(auto text, read_file(dir / "cgroup.controllers"));
  return words(text);
}

Result<std::vector<std::string>> read_subtree_control(const fs::path& dir) {
  BERTH_TRY(auto text, read_file(dir / "cgroup.subtree_control"));
  return words(text);
}

Result<void> enable_controllers(const fs::path& dir, const std::vector<std::string>& names) {
  if (names.empty()) return {};
  std::string request;
  for (const auto& name : names) request += (request.empty() ? "+" : " +") + name;
  return write_file(dir / "cgroup.subtree_control", request);
}

Result<std::vector<std::string>> list_children(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return fail(Error("list cgroups in", ec.value(), dir.string()));
  std::vector<std::string> names;
  for (const auto& entry : it) {
    if (entry.is_directory(ec)) names.push_back(entry.path().filename().string());
  }
  std::ranges::sort(names);
  return names;
}

Result<Usage> read_usage(const fs::path& dir) {
  Usage usage;
  BERTH_TRY_VOID(fill_cpu(dir, usage));
  BERTH_TRY(usage.memory_current, read_optional_u64(dir / "memory.current"));
  BERTH_TRY_VOID(fill_pids(dir, usage));
  return usage;
}

Result<bool> is_populated(const fs::path& dir) {
  auto file = dir / "cgroup.events";
  BERTH_TRY(auto text, read_file(file));
  auto populated = flat_key(text, "populated");
  if (!populated) return fail(Error("no \"populated\" key in", 0, file.string()));
  return *populated != 0;
}

Result<void> kill_all(const fs::path& dir) { return write_file(dir / "cgroup.kill", "1"); }

// cgroup.events is watched by poll() on the file itself, which kernfs wakes
// with POLLPRI when the file changes: no inotify instance, whose close waits
// out an SRCU grace period (tens of milliseconds on small VMs) on the agent's
// event loop.
Result<void> wait_unpopulated(const fs::path& dir, std::chrono::milliseconds timeout) {
  auto events = dir / "cgroup.events";
  UniqueFd fd(::open(events.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", events.string());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Read (from the start) before each poll: a change after the read still wakes it.
    char buffer[256];
    auto n = ::pread(fd.get(), buffer, sizeof buffer - 1, 0);
    if (n < 0) return fail_sys("read", events.string());
    auto populated = flat_key(std::string_view(buffer, static_cast<std::size_t>(n)), "populated");
    if (!populated) return fail(Error("no \"populated\" key in", 0, events.string()));
    if (*populated == 0) return {};
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail(Error("processes still running " + std::to_string(timeout.count()) + " ms after cgroup.kill in",
                        ETIMEDOUT, dir.string()));
    }
    // Files outside kernfs never raise POLLPRI: each wait is capped so such
    // a file (and any wakeup lost) costs at most a re-read every 100 ms.
    pollfd wake{.fd = fd.get(), .events = POLLPRI, .revents = 0};
    auto wait = std::min<long>(left.count(), 100);
    if (::poll(&wake, 1, static_cast<int>(wait)) < 0 && errno != EINTR) return fail_sys("poll", events);
  }
}

Result<void> remove_tree(const fs::path& dir) {
  auto children = list_children(dir);
  if (!children) {
    if (children.error().code() == ENOENT) return {};
    return std::unexpected(std::move(children).error());
  }
  for (const auto& child : *children) BERTH_TRY_VOID(remove_tree(dir / child));
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return fail_sys("rmdir", dir);
  return {};
}

Result<void> destroy(const fs::path& dir, std::chrono::milliseconds timeout) {
  if (::access(dir.c_str(), F_OK) != 0 && errno == ENOENT) return {};
  BERTH_TRY_VOID(kill_all(dir));
  BERTH_TRY_VOID(wait_unpopulated(dir, timeout));
  return remove_tree(dir);
}

}  // namespace berth::isolators::cgroupfs

namespace berth::isolators::cgroupfs {

Result<std::filesystem::path> mount_of(const std::filesystem::path& dir) {
  BERTH_TRY_VOID(check_cgroup2(dir));
  auto top = dir;
  while (top.has_parent_path() && top.parent_path() != top && check_cgroup2(top.parent_path())) top = top.parent_path();
  return top;
}

Result<std::optional<std::filesystem::path>> leave_for_leaf(const std::filesystem::path& root, std::string_view leaf) {
  namespace fs = std::filesystem;
  // "0::/berth.slice/berth-agent.service": the process's cgroup2 path.
  BERTH_TRY(auto text, read_file("/proc/self/cgroup"));
  std::string own;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    auto line = std::string_view(text).substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.starts_with("0::")) own = std::string(line.substr(3));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  if (own.empty()) return std::optional<fs::path>{};
  // The deepest existing directory of `root` tells the mount (root itself may not exist yet).
  auto existing = root;
  std::error_code ec;
  while (!fs::exists(existing, ec) && existing.has_parent_path() && existing.parent_path() != existing) {
    existing = existing.parent_path();
  }
  BERTH_TRY(auto mount, mount_of(existing));
  auto mine = (mount / fs::path(own).relative_path()).lexically_normal();
  auto below = root.lexically_normal().lexically_relative(mine);
  if (own == "/" || below.empty() || *below.begin() == ".." || below == ".") return std::optional<fs::path>{};
  auto target = mine / leaf;
  if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) return fail_sys("mkdir", target.string());
  BERTH_TRY_VOID(write_file(target / "cgroup.procs", std::to_string(::getpid())));
  return std::optional<fs::path>(target);
}

}  // namespace berth::isolators::cgroupfs
