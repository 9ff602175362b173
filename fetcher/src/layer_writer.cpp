#include "layer_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "berth/common/files.hpp"
#include "entry_metadata.hpp"
#include "overlay_whiteouts.hpp"
#include "safe_path.hpp"

namespace berth::fetcher {

namespace {

// Large writes: a layer's files are written once and read many times, and
// libarchive fills the whole buffer from its own.
constexpr std::size_t kWriteChunk = std::size_t{1} << 20;

// Until finish() gives them their own, directories stay writable by the
// extracting user (a layer may ship read-only ones and then fill them) and
// closed to everyone else.
constexpr mode_t kDirectoryModeWhileWriting = 0700;

constexpr mode_t kSetidBits = S_ISUID | S_ISGID;

std::string limit_error(std::string what, std::uint64_t limit, std::string_view name) {
  return what + " the limit of " + std::to_string(limit) + " bytes (" + std::string(name) + ")";
}

}  // namespace

LayerWriter::LayerWriter(int root_fd, const LayerOptions& options, LayerStats& stats)
    : root_fd_(root_fd),
      options_(options),
      stats_(stats),
      apply_ownership_(options.ownership == OwnershipPolicy::apply_if_root && ::geteuid() == 0) {}

Result<void> LayerWriter::apply(const LayerEntry& entry, const EntryContent& content) {
  BERTH_TRY(LayerPath path, normalize_layer_path(entry.name));
  if (is_whiteout(path)) return write_whiteout(path);
  if (path.is_root() && entry.type != EntryType::directory) return fail("only a directory can name the layer root");
  switch (entry.type) {
    case EntryType::directory:
      return write_directory(entry, path);
    case EntryType::regular:
      return write_regular(entry, path, content);
    case EntryType::symlink:
      return write_symlink(entry, path);
    case EntryType::hardlink:
      return write_hardlink(entry, path);
    case EntryType::char_device:
    case EntryType::block_device:
    case EntryType::fifo:
      return write_device_node(entry, path);
  }
  return fail("unknown entry type");
}

Result<void> LayerWriter::write_whiteout(const LayerPath& path) {
  BERTH_TRY(WhiteoutOutcome outcome, apply_whiteout(root_fd_, path));
  if (outcome == WhiteoutOutcome::whiteout_created) ++stats_.whiteouts;
  if (outcome == WhiteoutOutcome::opaque_marked) ++stats_.opaque_dirs;
  return {};
}

// Called for every entry written, so it must not scan the whole map: the
// paths below "a" sort together, from "a/" up to "a0" ('0' follows '/').
void LayerWriter::forget_directories(const LayerPath& path) {
  const std::string removed = path.str();
  directories_.erase(removed);
  directories_.erase(directories_.lower_bound(removed + '/'), directories_.lower_bound(removed + '0'));
}

Result<UniqueFd> LayerWriter::replace(const LayerPath& path) {
  BERTH_TRY(UniqueFd parent, open_parent_dir(root_fd_, path));
  BERTH_TRY_VOID(remove_entry(parent.get(), path.name()));
  // What was removed cannot take a directory's metadata at the end, and
  // neither can whatever comes to stand at its path later through a symlink.
  forget_directories(path);
  return parent;
}

Result<void> LayerWriter::write_directory(const LayerEntry& entry, const LayerPath& path) {
  if (!path.is_root()) {
    BERTH_TRY(UniqueFd parent, open_parent_dir(root_fd_, path));
    struct stat st {};
    bool is_dir = ::fstatat(parent.get(), path.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    if (!is_dir) {
      BERTH_TRY(parent, replace(path));
      if (::mkdirat(parent.get(), path.name().c_str(), kDirectoryModeWhileWriting) != 0) {
        return fail_sys("mkdirat", path.str());
      }
    }
  }
  directories_.insert_or_assign(path.str(), PendingDirectory{path, entry});
  ++stats_.directories;
  return {};
}

Result<void> LayerWriter::check_size(const LayerEntry& entry) const {
  const LayerLimits& limits = options_.limits;
  if (entry.size > limits.max_file_bytes) {
    return fail(limit_error("file of " + std::to_string(entry.size) + " bytes exceeds", limits.max_file_bytes,
                            "max_file_bytes"));
  }
  if (entry.size > limits.max_total_bytes - std::min(stats_.bytes_written, limits.max_total_bytes)) {
    return fail(limit_error("regular files would total more than", limits.max_total_bytes, "max_total_bytes"));
  }
  return {};
}

Result<mode_t> LayerWriter::permissions_for(const LayerEntry& entry) const {
  mode_t setid = entry.permissions & kSetidBits;
  if (setid == 0 || entry.type == EntryType::directory) return entry.permissions;
  switch (options_.setid_bits) {
    case SetidPolicy::keep:
      return entry.permissions;
    case SetidPolicy::strip:
      return entry.permissions & ~kSetidBits;
    case SetidPolicy::reject:
      break;
  }
  return fail("setuid/setgid bits (mode " + octal_mode(entry.permissions) + ") refused by policy");
}

// The declared size was checked before the file was created; counting what
// is actually written as well keeps the limits independent of libarchive's
// idea of the size (sparse entries, pax overrides).
Result<void> LayerWriter::copy_content(int fd, const LayerEntry& entry, const EntryContent& content) {
  if (buffer_.empty()) buffer_.resize(kWriteChunk);
  std::uint64_t written = 0;
  for (;;) {
    BERTH_TRY(std::size_t n, content(buffer_));
    if (n == 0) return {};
    written += n;
    if (written > options_.limits.max_file_bytes) {
      return fail(limit_error("file content exceeds", options_.limits.max_file_bytes, "max_file_bytes"));
    }
    if (n > options_.limits.max_total_bytes - stats_.bytes_written) {
      return fail(limit_error("regular files total more than", options_.limits.max_total_bytes, "max_total_bytes"));
    }
    BERTH_TRY_VOID(files::write_all(fd, std::string_view(buffer_.data(), n), entry.name));
    stats_.bytes_written += n;
  }
}

// chown before chmod: chown(2) clears setuid and setgid bits.
Result<void> LayerWriter::apply_metadata(int fd, const LayerEntry& entry, mode_t permissions) {
  if (apply_ownership_) {
    BERTH_TRY(Owner owner, owner_of(entry));
    BERTH_TRY_VOID(set_owner(fd, owner));
  }
  if (::fchmod(fd, permissions) != 0) return fail_sys("fchmod");
  return set_times(fd, entry);
}

Result<void> LayerWriter::apply_metadata_at(int dir_fd, const std::string& name, const LayerEntry& entry) {
  if (apply_ownership_) {
    BERTH_TRY(Owner owner, owner_of(entry));
    BERTH_TRY_VOID(set_owner_at(dir_fd, name, owner));
  }
  return set_times_at(dir_fd, name, entry);
}

Result<void> LayerWriter::write_regular(const LayerEntry& entry, const LayerPath& path, const EntryContent& content) {
  BERTH_TRY_VOID(check_size(entry));
  BERTH_TRY(mode_t permissions, permissions_for(entry));
  BERTH_TRY(UniqueFd parent, replace(path));
  // O_EXCL|O_NOFOLLOW: the name was just removed, and the file created is
  // the one written, never something a symlink points to.
  UniqueFd file(::openat(parent.get(), path.name().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         0600));
  if (!file) return fail_sys("openat", path.str());
  BERTH_TRY_VOID(copy_content(file.get(), entry, content));
  BERTH_TRY_VOID(apply_metadata(file.get(), entry, permissions));
  ++stats_.regular_files;
  return {};
}

// The target is stored verbatim: it is only ever followed inside the root,
// by this extractor (RESOLVE_IN_ROOT) or later in the container's own
// mount namespace.
Result<void> LayerWriter::write_symlink(const LayerEntry& entry, const LayerPath& path) {
  BERTH_TRY(UniqueFd parent, replace(path));
  if (::symlinkat(entry.link_target.c_str(), parent.get(), path.name().c_str()) != 0) {
    return fail_sys("symlinkat", path.str());
  }
  BERTH_TRY_VOID(apply_metadata_at(parent.get(), path.name(), entry));
  ++stats_.symlinks;
  return {};
}

// A hardlink shares its target's inode and with it the target's metadata;
// the link entry's own mode and times are not applied.
Result<void> LayerWriter::write_hardlink(const LayerEntry& entry, const LayerPath& path) {
  std::string context = "hardlink target " + quote_name(entry.link_target);
  BERTH_TRY(LayerPath target, with_context(normalize_layer_path(entry.link_target), context));
  if (target.is_root()) return fail(Error("is a directory").context(context));
  BERTH_TRY(UniqueFd target_dir, with_context(open_in_root(root_fd_, target.parent(), O_PATH | O_DIRECTORY), context));
  struct stat st {};
  if (::fstatat(target_dir.get(), target.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail(Error::sys("fstatat", target.str()).context(context));
  }
  if (S_ISDIR(st.st_mode)) return fail(Error("is a directory").context(context));
  if (target.str() != path.str()) {
    BERTH_TRY(UniqueFd parent, replace(path));
    // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
    if (::linkat(target_dir.get(), target.name().c_str(), parent.get(), path.name().c_str(), 0) != 0) {
      return fail_sys("linkat", path.str());
    }
  }
  ++stats_.hardlinks;
  return {};
}

Result<void> LayerWriter::write_device_node(const LayerEntry& entry, const LayerPath& path) {
  switch (options_.device_nodes) {
    case DeviceNodePolicy::skip:
      ++stats_.skipped_device_nodes;
      return {};
    case DeviceNodePolicy::reject:
      return fail("device nodes and FIFOs are refused by policy");
    case DeviceNodePolicy::create:
      break;
  }
  BERTH_TRY_VOID(make_device_node(entry, path));
  ++stats_.device_nodes;
  return {};
}

Result<void> LayerWriter::make_device_node(const LayerEntry& entry, const LayerPath& path) {
  BERTH_TRY(mode_t permissions, permissions_for(entry));
  mode_t type = entry.type == EntryType::char_device    ? S_IFCHR
                : entry.type == EntryType::block_device ? S_IFBLK
                                                         : S_IFIFO;
  BERTH_TRY(UniqueFd parent, replace(path));
  const std::string& name = path.name();
  if (::mknodat(parent.get(), name.c_str(), type | 0600, type == S_IFIFO ? 0 : entry.device) != 0) {
    return fail_sys(errno == EPERM ? "mknodat (device nodes need CAP_MKNOD)" : "mknodat", path.str());
  }
  BERTH_TRY_VOID(apply_metadata_at(parent.get(), name, entry));
  // Opening a device or FIFO to fchmod it could block or reach the device;
  // the name was created a moment ago in a directory only we write.
  if (::fchmodat(parent.get(), name.c_str(), permissions, 0) != 0) return fail_sys("fchmodat", path.str());
  return {};
}

// A directory whose path no longer leads to a directory (a later entry
// replaced it or one of the symlinks on its way) has no metadata left to
// take. O_NOFOLLOW keeps a symlink put in its place from passing the
// metadata on to its target (containerd's CVE-2021-32760).
Result<void> LayerWriter::finish_directory(const PendingDirectory& directory) {
  auto dir = open_in_root(root_fd_, directory.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!dir) {
    int code = dir.error().code();
    if (code == ENOENT || code == ENOTDIR || code == ELOOP) return {};
    return fail(std::move(dir).error().context(entry_context(directory.entry.name)));
  }
  BERTH_TRY(mode_t permissions, permissions_for(directory.entry));
  return with_context(apply_metadata(dir->get(), directory.entry, permissions), entry_context(directory.entry.name));
}

Result<void> LayerWriter::finish() {
  std::vector<const PendingDirectory*> order;
  order.reserve(directories_.size());
  for (const auto& [key, directory] : directories_) order.push_back(&directory);
  std::ranges::stable_sort(order, std::ranges::greater{},
                           [](const PendingDirectory* d) { return d->path.components.size(); });
  for (const PendingDirectory* directory : order) BERTH_TRY_VOID(finish_directory(*directory));
  return {};
}

}  // namespace berth::fetcher
