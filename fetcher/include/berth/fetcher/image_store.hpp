#pragma once
// The local image store: verified blobs (manifests and configs), unpacked
// layers shared between images, and one record per pulled image.
//
//   <root>/
//     blobs/...                     BlobStore (blob_store.hpp)
//     layers/
//       sha256/<hex>/               one unpacked layer, in overlayfs form, named by
//                                   the digest of its compressed blob
//       ingest/<random>/            a layer being unpacked; renamed into sha256/
//                                   once its digests check out; removed on failure
//                                   and, left over from a crash, when the store opens
//       locks/<algorithm>-<hex>     held (flock) by the one pull fetching that layer
//       partial/<algorithm>-<hex>   the compressed bytes of a layer whose download
//                                   a killed, stopped or failed pull broke off, as
//                                   they arrived: the next pull of the layer asks
//                                   the registry for the rest only. Used under the
//                                   layer's lock; removed when the layer commits,
//                                   when its bytes prove wrong, and by prune
//     store.lock                    pulls hold it shared, prune exclusively
//     images/
//       <sha256 of the reference>.json   ImageRecord, written atomically
//
// Layers are named by the compressed digest because that is what a manifest
// gives before anything is downloaded: a layer already here is not fetched
// again. Every change is a rename, so a kill at any moment leaves the store
// with whole entries only, and a retried pull resumes from the layers that
// made it.
//
// Several processes may share a store (agents, `berth pull`). What one is
// writing it holds a lock on (flock: the kernel drops it when the process
// dies), so opening the store removes only what no live process holds, two
// pulls of one layer fetch it once, and prune never runs beside a pull.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/fetcher/blob_store.hpp"
#include "berth/fetcher/digest.hpp"

namespace berth::fetcher {

struct ImageRecord {
  std::string reference;    // as pulled, normalized ("docker.io/library/busybox:latest")
  Digest manifest_digest;   // the image manifest's (after platform selection)
  std::string media_type;   // of that manifest
  Digest config_digest;
  std::vector<Digest> layers;    // compressed digests, bottom first
  std::vector<Digest> diff_ids;  // the same layers uncompressed
  std::uint64_t size = 0;        // compressed bytes of the layers
  std::int64_t pulled_at = 0;    // unix seconds
};

std::string to_json(const ImageRecord& record);
Result<ImageRecord> parse_image_record(std::string_view json);

// A layer directory being unpacked: removed on destruction unless committed.
// It stays locked while it exists, so that no other process sharing the store
// takes it for a crash's leftover.
class IngestLayer {
 public:
  IngestLayer(IngestLayer&& other) noexcept;
  IngestLayer& operator=(IngestLayer&&) = delete;
  ~IngestLayer();
  const std::filesystem::path& path() const { return path_; }

 private:
  friend class ImageStore;
  IngestLayer(std::filesystem::path path, UniqueFd lock) : path_(std::move(path)), lock_(std::move(lock)) {}
  std::filesystem::path path_;
  UniqueFd lock_;
};

// A held flock on a lock file of the store. A layer lock's file is removed
// on release (while still held): a process that waited on it then finds its
// file gone, and locks afresh.
class StoreLock {
 public:
  StoreLock(StoreLock&& other) noexcept = default;
  StoreLock& operator=(StoreLock&&) = delete;
  ~StoreLock();

 private:
  friend class ImageStore;
  StoreLock(UniqueFd fd, std::filesystem::path remove_on_release)
      : fd_(std::move(fd)), remove_on_release_(std::move(remove_on_release)) {}
  UniqueFd fd_;
  std::filesystem::path remove_on_release_;
};

struct PruneResult {
  std::vector<std::string> layers_removed;  // digests
  std::vector<std::string> blobs_removed;
  std::size_t partial_downloads_removed = 0;
  std::uint64_t bytes_freed = 0;
};

class ImageStore {
 public:
  // Creates the layout if needed and removes what a crash left in ingest.
  static Result<ImageStore> open(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  BlobStore& blobs() { return blobs_; }

  std::filesystem::path layer_path(const Digest& digest) const;
  bool has_layer(const Digest& digest) const;
  Result<IngestLayer> begin_layer();
  // Where a broken-off download of the layer is kept (see the layout above).
  std::filesystem::path partial_path(const Digest& digest) const;
  // Waits until no other pull (in any process) is fetching this layer.
  Result<StoreLock> lock_layer(const Digest& digest);
  // Held by a pull from start to record, so that prune cannot remove what it
  // has committed but not yet recorded.
  Result<StoreLock> share_for_pull();
  // Renames the unpacked layer into place. If another pull got there first,
  // its layer (the same verified content) stays and this one is removed.
  Result<void> commit_layer(IngestLayer layer, const Digest& digest);

  // An overlay mounted with "userxattr" (in a user namespace) reads
  // user.overlay.opaque, not trusted.overlay.opaque. Layers unpacked now carry
  // both and say so on their root directory; this gives an older layer the
  // user.* marks too, once (a walk of its directories).
  static Result<void> ensure_user_overlay_marks(const std::filesystem::path& layer_dir);

  Result<void> put_image(const ImageRecord& record);
  Result<std::optional<ImageRecord>> image(std::string_view reference) const;
  Result<std::vector<ImageRecord>> images() const;
  // An absent image is an error with errno ENOENT.
  Result<void> remove_image(std::string_view reference);

  // Removes the layers and blobs no image record references, except the
  // layers in `in_use` (those of running containers), and every partial
  // download. Refused (EBUSY) while a pull runs in any process sharing the
  // store.
  Result<PruneResult> prune(const std::set<std::string>& in_use = {});
  // Bytes the store's files take on disk.
  Result<std::uint64_t> disk_usage() const;

 private:
  explicit ImageStore(std::filesystem::path root);
  std::filesystem::path record_path(std::string_view reference) const;

  std::filesystem::path root_;
  BlobStore blobs_;
};

}  // namespace berth::fetcher
