#pragma once
// Applies a layer's entries, one at a time, to a directory: the policies,
// the per-file limits and the replacement rules of tar ("the later entry
// wins") live here. Every path goes through safe_path.hpp.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/fetcher/layer_extractor.hpp"
#include "layer_entry.hpp"
#include "layer_path.hpp"

namespace berth::fetcher {

class LayerWriter {
 public:
  // `options` and `stats` must outlive the writer; `root_fd` is borrowed.
  LayerWriter(int root_fd, const LayerOptions& options, LayerStats& stats);

  // `content` reads a regular file's data; other entries leave it unread.
  Result<void> apply(const LayerEntry& entry, const EntryContent& content);

  // Gives the layer's directories their mode, owner and times, deepest
  // first: writing a child changes its directory's mtime, and a directory
  // made read-only early could not take its children.
  Result<void> finish();

 private:
  struct PendingDirectory {
    LayerPath path;
    LayerEntry entry;
  };

  Result<void> write_whiteout(const LayerPath& path);
  Result<void> write_directory(const LayerEntry& entry, const LayerPath& path);
  Result<void> write_regular(const LayerEntry& entry, const LayerPath& path, const EntryContent& content);
  Result<void> write_symlink(const LayerEntry& entry, const LayerPath& path);
  Result<void> write_hardlink(const LayerEntry& entry, const LayerPath& path);
  Result<void> write_device_node(const LayerEntry& entry, const LayerPath& path);
  Result<void> make_device_node(const LayerEntry& entry, const LayerPath& path);

  // Opens the parent of `path` and removes what `path` names there now.
  Result<UniqueFd> replace(const LayerPath& path);
  void forget_directories(const LayerPath& path);
  Result<void> check_size(const LayerEntry& entry) const;
  Result<mode_t> permissions_for(const LayerEntry& entry) const;
  Result<void> copy_content(int fd, const LayerEntry& entry, const EntryContent& content);
  Result<void> apply_metadata(int fd, const LayerEntry& entry, mode_t permissions);
  Result<void> apply_metadata_at(int dir_fd, const std::string& name, const LayerEntry& entry);
  Result<void> finish_directory(const PendingDirectory& directory);

  int root_fd_;
  const LayerOptions& options_;
  LayerStats& stats_;
  bool apply_ownership_;
  // Keyed by path string, so a later entry for a directory replaces an
  // earlier one's metadata.
  std::map<std::string, PendingDirectory> directories_;
  std::vector<char> buffer_;
};

}  // namespace berth::fetcher
