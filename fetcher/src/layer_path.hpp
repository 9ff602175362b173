#pragma once
// Names of a layer's entries, made relative to the layer root lexically,
// before anything touches the filesystem, and quoted for error messages.

#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::fetcher {

// A path inside the layer root with no empty, "." or ".." components. No
// components names the root itself.
struct LayerPath {
  std::vector<std::string> components;

  bool is_root() const { return components.empty(); }
  // "a/b/c"; "." for the root, which is what openat2 resolves to it.
  std::string str() const;
  // The directory holding the last component: "a/b", or "." at the top.
  LayerPath parent() const;
  // The last component; only for a path that is not the root.
  const std::string& name() const { return components.back(); }
};

// Strips leading "/" and applies "." and ".." lexically. A ".." that would
// climb above the root is an error rather than being dropped: only a broken
// or hostile layer asks for it, and quietly extracting it somewhere else
// would hide that. Symlinks are not looked at here; the kernel resolves them
// inside the root when the path is opened (see safe_path.hpp).
Result<LayerPath> normalize_layer_path(std::string_view name);

// "'<name>'" for an error message, with control characters escaped and an
// overlong name shortened: names come from the layer and must not be able
// to forge or flood log lines.
std::string quote_name(std::string_view name);

// `text` with control characters written as \xNN, for the paths and
// messages of errors about an entry: a name from the layer reaches them
// through system call paths as well.
std::string escape_control_characters(std::string_view text);

// "layer entry '<name>'", quoted as above, for the context of an error.
inline std::string entry_context(std::string_view name) { return "layer entry " + quote_name(name); }

}  // namespace berth::fetcher
