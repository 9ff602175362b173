#pragma once
// Opening and removing paths inside a layer root without ever leaving it.
//
// The kernel resolves every path (openat2 RESOLVE_IN_ROOT) as if the root
// were "/": an absolute symlink or a ".." on the way is clamped to the root
// rather than followed into the host, whatever the layer put in place
// before. Everything is created or removed relative to a directory fd
// resolved that way, one name at a time, without following a symlink in
// the last component.

#include <string>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "layer_path.hpp"

namespace berth::fetcher {

// openat2(root_fd, path, flags) resolved inside root_fd. `flags` are open(2)
// flags; O_CLOEXEC is added. With O_NOFOLLOW a symlink in the last component
// is not followed (ELOOP, or the link itself with O_PATH).
Result<UniqueFd> open_in_root(int root_fd, const LayerPath& path, int flags);

// The directory holding `path` (O_RDONLY|O_DIRECTORY), creating the missing
// ones on the way with mode 0755: layers may leave out a file's parents.
// A component that resolves to something other than a directory, or to a
// symlink whose target does not exist inside the root, is an error.
Result<UniqueFd> open_parent_dir(int root_fd, const LayerPath& path);

// Removes `name` from the directory `dir_fd`, a directory with everything
// below it included, never following a symlink. An absent name is no error.
Result<void> remove_entry(int dir_fd, const std::string& name);

}  // namespace berth::fetcher
