#include "overlay_whiteouts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cerrno>
#include <string_view>

#include "safe_path.hpp"

namespace berth::fetcher {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kAufsMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

Result<WhiteoutOutcome> mark_opaque(int root_fd, const LayerPath& path) {
  BERTH_TRY(UniqueFd dir, open_parent_dir(root_fd, path));
  if (::fsetxattr(dir.get(), kOpaqueXattr, "y", 1, 0) != 0) {
    std::string op = std::string("fsetxattr ") + kOpaqueXattr;
    if (errno == EPERM) op += " (trusted.* xattrs need CAP_SYS_ADMIN)";
    return fail_sys(op, path.parent().str());
  }
  if (::fsetxattr(dir.get(), kUserOpaqueXattr, "y", 1, 0) != 0 && errno != ENOTSUP) {
    return fail_sys(std::string("fsetxattr ") + kUserOpaqueXattr, path.parent().str());
  }
  return WhiteoutOutcome::opaque_marked;
}

Result<WhiteoutOutcome> make_whiteout(int root_fd, const LayerPath& path, const std::string& hidden) {
  if (hidden.empty() || hidden == "." || hidden == "..") return fail("whiteout names no file");
  BERTH_TRY(UniqueFd dir, open_parent_dir(root_fd, path));
  struct stat st {};
  if (::fstatat(dir.get(), hidden.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return WhiteoutOutcome::shadowed_by_entry;
  if (errno != ENOENT) return fail_sys("fstatat", hidden);
  // mknodat() creates the name in the resolved directory and never follows
  // a symlink there (it does not exist: checked just above).
  if (::mknodat(dir.get(), hidden.c_str(), S_IFCHR | 0000, ::makedev(0, 0)) != 0) {
    std::string op = "mknodat whiteout 0:0";
    if (errno == EPERM) op += " (overlayfs whiteouts are character devices: needs CAP_MKNOD)";
    LayerPath whited = path.parent();
    whited.components.push_back(hidden);
    return fail_sys(op, whited.str());
  }
  return WhiteoutOutcome::whiteout_created;
}

}  // namespace

bool is_whiteout(const LayerPath& path) {
  return !path.is_root() && std::string_view(path.name()).starts_with(kWhiteoutPrefix);
}

Result<WhiteoutOutcome> apply_whiteout(int root_fd, const LayerPath& path) {
  std::string_view name = path.name();
  if (name == kOpaqueMarker) return mark_opaque(root_fd, path);
  if (name.starts_with(kAufsMetaPrefix)) return WhiteoutOutcome::aufs_metadata_ignored;
  return make_whiteout(root_fd, path, std::string(name.substr(kWhiteoutPrefix.size())));
}

}  // namespace berth::fetcher
