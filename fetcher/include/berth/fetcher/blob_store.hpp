#pragma once
// A content-addressed store of blobs (image layers, configs, manifests). A
// blob becomes visible only after its content was hashed and matched the
// digest it is stored under, and read() checks that again, so nothing that
// reaches a container's rootfs is trusted on the registry's word.
//
//   <root>/
//     blobs/
//       sha256/
//         <64 hex>                  a committed blob, read-only, named by its digest
//       sha512/
//         <128 hex>
//     ingest/
//       <algorithm>-<hex>-<random>  one writer's blob in progress; renamed into
//                                   blobs/ on commit, removed on failure or abandon
//
// ingest/ and blobs/ share a filesystem so a commit is one rename(2): a reader
// sees no blob or the whole verified blob, never part of one. Every writer has
// its own ingest file, so concurrent writers of one digest (two pulls sharing
// a layer) cannot interleave their bytes; the last rename wins, and both wrote
// the same verified content.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/fetcher/digest.hpp"

namespace berth::fetcher {

struct BlobStoreOptions {
  // No blob may be larger, whatever its digest: the digest is only checked at
  // the end, and a registry streaming garbage must not fill the disk first.
  std::uint64_t max_blob_size = std::uint64_t{16} << 30;
};

class BlobWriter;

// Operations taking a Digest refuse a malformed one (see validate()) before
// touching the filesystem.
class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path root, BlobStoreOptions options = {});

  const std::filesystem::path& root() const { return root_; }

  // Stores `data` under `expected` if it hashes to it; on a mismatch the error
  // names both digests and nothing is left on disk.
  Result<void> put(const Digest& expected, std::string_view data);

  // Starts streaming a blob into ingest/. `expected_size`, when known (an OCI
  // descriptor carries it), must then be matched exactly and tightens the
  // size limit to it.
  Result<BlobWriter> begin(const Digest& expected, std::optional<std::uint64_t> expected_size = std::nullopt);

  // Whether a committed blob exists. Does not re-hash it; read() does.
  bool contains(const Digest& digest) const;

  // The blob's content, re-hashed: a blob altered on disk is reported as
  // corrupt (and left in place for inspection; remove() it and fetch again).
  Result<std::string> read(const Digest& digest) const;

  // Where the blob lives or would live; empty for a malformed digest, so it
  // can never name a file outside the store.
  std::string path(const Digest& digest) const;

  // Deletes a committed blob; an absent one is an error with errno ENOENT.
  Result<void> remove(const Digest& digest);

 private:
  std::filesystem::path blob_path(const Digest& digest) const;

  std::filesystem::path root_;
  BlobStoreOptions options_;
};

// One blob being written into the store. Move-only. Until commit() succeeds,
// the blob is invisible; a writer destroyed before that, or one whose write()
// or commit() failed, removes its ingest file.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&& other) noexcept = default;
  BlobWriter& operator=(BlobWriter&& other) noexcept;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter() { discard(); }

  // Fails, and discards the blob, once more than the size limit is written.
  Result<void> write(std::string_view data);
  // Checks size and digest, fsyncs, makes the file read-only and renames it
  // into blobs/. After commit(), successful or not, the writer is closed.
  Result<void> commit();

  const Digest& expected() const { return expected_; }
  std::uint64_t bytes_written() const { return written_; }

 private:
  friend class BlobStore;
  struct Target {
    Digest expected;
    std::filesystem::path ingest;
    std::filesystem::path blob;
    std::uint64_t limit = 0;
    std::optional<std::uint64_t> expected_size;
  };
  BlobWriter(Target target, UniqueFd fd, Hasher hasher);

  Result<void> check_content();
  Result<void> publish();
  // Closes and unlinks the ingest file; a no-op once closed. The writer owns
  // an ingest file exactly while fd_ is open, which also makes the defaulted
  // move constructor correct.
  void discard();

  Digest expected_;
  std::filesystem::path ingest_;
  std::filesystem::path blob_;
  std::uint64_t limit_ = 0;
  std::optional<std::uint64_t> expected_size_;
  std::uint64_t written_ = 0;
  UniqueFd fd_;
  Hasher hasher_;
};

}  // namespace berth::fetcher
