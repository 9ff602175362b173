#pragma once
// A layer's uncompressed tar, read from its source through the decompressor
// its magic bytes call for, with both digests computed on the way: the
// compressed one that names the blob and the diff_id the image config lists.
// Every byte passes through here exactly once, so the two hashes cover the
// streams exactly as they arrived.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/fetcher/digest.hpp"
#include "berth/fetcher/layer_extractor.hpp"

struct archive;

namespace berth::fetcher {

class LayerStream {
 public:
  // Reads the first bytes to tell the compression. Held by pointer, since
  // the decompressor keeps its address.
  static Result<std::unique_ptr<LayerStream>> open(LayerSource source, std::uint64_t max_tar_bytes);
  ~LayerStream();
  LayerStream(const LayerStream&) = delete;
  LayerStream& operator=(const LayerStream&) = delete;

  LayerCompression compression() const { return compression_; }

  // The next chunk of the tar, valid until the next call; empty at its end.
  // Fails once the tar grows beyond max_tar_bytes.
  Result<std::string_view> next();

  // Reads what the tar reader left (the padding after the end-of-archive
  // blocks, the compressed stream's trailer), so that the digests cover the
  // whole streams.
  Result<void> drain();

  // Only meaningful after drain().
  Digest compressed_digest() { return compressed_hash_.finish(); }
  Digest diff_id() { return tar_hash_.finish(); }

 private:
  struct ArchiveFree {
    void operator()(archive* a) const;
  };

  LayerStream(LayerSource source, std::uint64_t max_tar_bytes);
  Result<void> read_head();
  Result<void> detect_compression();
  Result<void> open_decompressor();
  Result<std::string_view> pull();
  Result<std::string_view> next_raw();
  Result<std::string_view> next_decompressed();
  Error decompressor_error();
  static long read_raw(archive* a, void* self, const void** buffer);

  LayerSource source_;
  bool source_ended_ = false;
  std::optional<Error> source_failure_;
  // The first bytes, read to tell the compression and served first.
  std::string head_;
  bool head_served_ = false;
  LayerCompression compression_ = LayerCompression::none;
  std::unique_ptr<archive, ArchiveFree> decompressor_;
  bool tar_ended_ = false;
  std::uint64_t tar_bytes_ = 0;
  std::uint64_t max_tar_bytes_;
  Sha256 compressed_hash_;
  Sha256 tar_hash_;
};

}  // namespace berth::fetcher
