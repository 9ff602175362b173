#pragma once
// OCI whiteouts turned into what overlayfs reads from a lower layer. The
// image spec marks deletions with files named ".wh.NAME" and opaque
// directories with a file ".wh..wh..opq"; overlayfs wants a 0:0 character
// device named NAME and the xattr trusted.overlay.opaque="y" instead.

#include "berth/common/error.hpp"
#include "layer_path.hpp"

namespace berth::fetcher {

// The xattrs that mark an opaque directory: the one overlayfs reads, and the
// one it reads instead when mounted with "userxattr", as it is in a
// container's user namespace, where trusted.* xattrs cannot be read.
inline constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";
inline constexpr const char* kUserOpaqueXattr = "user.overlay.opaque";

// Whether the last component of `path` is a whiteout name.
bool is_whiteout(const LayerPath& path);

enum class WhiteoutOutcome {
  whiteout_created,
  opaque_marked,
  // NAME exists in this layer already: the spec says a whiteout hides only
  // what lower layers hold, so this layer's NAME stays.
  shadowed_by_entry,
  // aufs' own bookkeeping (".wh..wh.plnk" and the like), which Docker's
  // aufs driver left in some old layers and no other driver reads.
  aufs_metadata_ignored,
};

// Applies the whiteout `path` names inside `root_fd`, creating its missing
// parent directories. Creating the device needs CAP_MKNOD (unless the kernel
// allows whiteouts without it) and the trusted.* xattr CAP_SYS_ADMIN; lacking
// them is an error that says so.
Result<WhiteoutOutcome> apply_whiteout(int root_fd, const LayerPath& path);

}  // namespace berth::fetcher
