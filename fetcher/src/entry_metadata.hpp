#pragma once
// Owner, mode and times of what an entry created, applied through an fd or
// to a name in a resolved directory, never following a symlink.

#include <sys/types.h>

#include <string>

#include "berth/common/error.hpp"
#include "layer_entry.hpp"

namespace berth::fetcher {

// The entry's uid and gid as chown(2) takes them. An id of 2^32-1 would
// mean "leave unchanged" to chown, and a larger one cannot exist: both are
// refused rather than silently leaving the file to the extracting user.
struct Owner {
  uid_t uid;
  gid_t gid;
};
Result<Owner> owner_of(const LayerEntry& entry);

Result<void> set_owner(int fd, const Owner& owner);
Result<void> set_owner_at(int dir_fd, const std::string& name, const Owner& owner);

// The entry's mtime, and its atime where the archive has one (the mtime
// otherwise). Nothing when the archive has no mtime.
Result<void> set_times(int fd, const LayerEntry& entry);
Result<void> set_times_at(int dir_fd, const std::string& name, const LayerEntry& entry);

// "4755", "0644"
std::string octal_mode(mode_t mode);

}  // namespace berth::fetcher
