#include "entry_metadata.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>

namespace berth::fetcher {

namespace {

constexpr std::int64_t kMaxId = std::int64_t{0xffffffff} - 1;

Result<std::uint32_t> checked_id(const char* what, std::int64_t id) {
  if (id < 0 || id > kMaxId) return fail(std::string(what) + " " + std::to_string(id) + " is out of range");
  return static_cast<std::uint32_t>(id);
}

std::optional<std::array<timespec, 2>> times_of(const LayerEntry& entry) {
  if (!entry.mtime) return std::nullopt;
  return std::array<timespec, 2>{entry.atime.value_or(*entry.mtime), *entry.mtime};
}

}  // namespace

Result<Owner> owner_of(const LayerEntry& entry) {
  BERTH_TRY(uid_t uid, checked_id("uid", entry.uid));
  BERTH_TRY(gid_t gid, checked_id("gid", entry.gid));
  return Owner{uid, gid};
}

Result<void> set_owner(int fd, const Owner& owner) {
  if (::fchown(fd, owner.uid, owner.gid) != 0) return fail_sys("fchown");
  return {};
}

Result<void> set_owner_at(int dir_fd, const std::string& name, const Owner& owner) {
  if (::fchownat(dir_fd, name.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail_sys("fchownat", name);
  }
  return {};
}

Result<void> set_times(int fd, const LayerEntry& entry) {
  auto times = times_of(entry);
  if (times && ::futimens(fd, times->data()) != 0) return fail_sys("futimens");
  return {};
}

Result<void> set_times_at(int dir_fd, const std::string& name, const LayerEntry& entry) {
  auto times = times_of(entry);
  if (times && ::utimensat(dir_fd, name.c_str(), times->data(), AT_SYMLINK_NOFOLLOW) != 0) {
    return fail_sys("utimensat", name);
  }
  return {};
}

std::string octal_mode(mode_t mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace berth::fetcher
