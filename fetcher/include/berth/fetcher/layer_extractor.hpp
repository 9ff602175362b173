#pragma once
// Unpacks one OCI/Docker image layer (a tar stream, plain or compressed with
// gzip or zstd) into a directory in the form overlayfs mounts as a lower
// layer, hashing the stream on the way.
//
// A layer is hostile until proven otherwise: it comes from a registry, and a
// digest only proves it is the layer someone pushed. Every path in it is
// therefore resolved by the kernel inside the target directory (openat2 with
// RESOLVE_IN_ROOT), never through the host's filesystem, and every file is
// created relative to its resolved parent with O_NOFOLLOW|O_EXCL. No entry
// name, symlink or hardlink can make the extractor write, link or change
// anything outside that directory (Docker's CVE-2014-6407 was a symlink and
// hardlink escape in layer extraction; containerd's CVE-2021-32760 a chmod
// through a symlink the layer had put in place of a directory).
//
// OCI whiteouts become what overlayfs reads:
//   dir/.wh.NAME        a character device 0:0 named dir/NAME (needs CAP_MKNOD
//                       before Linux 5.8)
//   dir/.wh..wh..opq    dir gets the xattr trusted.overlay.opaque="y"
//                       (needs CAP_SYS_ADMIN)
// The whiteout files themselves are not written.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/fetcher/digest.hpp"

namespace berth::fetcher {

// The next chunk of a layer's bytes, valid until the next call. An empty
// chunk ends the stream; an error aborts the extraction and is returned by
// extract_layer(). This lets a download feed the extractor while the layer is
// still arriving. The source bounds its own length (a BlobWriter does): the
// extractor reads it to the end so that the digest covers every byte.
using LayerSource = std::move_only_function<Result<std::string_view>()>;

inline constexpr std::size_t kDefaultLayerChunk = std::size_t{1} << 20;

// Reads `fd` until end of file, `chunk_size` bytes at a time. The fd is
// borrowed: it must stay open for as long as the source is used.
LayerSource fd_source(int fd, std::size_t chunk_size = kDefaultLayerChunk);

// Told apart by the stream's magic bytes, not by a media type: registries
// and old Docker tooling are known to mislabel layers.
enum class LayerCompression { none, gzip, zstd };
std::string_view to_string(LayerCompression compression);

// Character and block devices and FIFOs that are not whiteouts. Images rarely
// need them (the runtime populates /dev), and a device node in a layer is a
// way into the host's hardware for whoever can open it.
enum class DeviceNodePolicy {
  skip,    // leave them out and count them
  create,  // mknod them; character and block devices need CAP_MKNOD
  reject,  // fail the layer
};

// setuid and setgid bits on non-directories. Directories keep setgid, which
// only makes new files inherit the group (Debian ships /var/local as 2775).
enum class SetidPolicy {
  strip,   // create the file without them
  keep,
  reject,  // fail the layer
};

enum class OwnershipPolicy {
  apply_if_root,  // chown to the layer's uid/gid when running as root
  skip,           // everything stays owned by the extracting user
};

// Each limit, when exceeded, fails the layer with an error naming the limit
// and the entry, before the offending bytes reach the disk where possible:
// a file's declared size is checked against the limits before it is written,
// so a decompression bomb is stopped after one header.
struct LayerLimits {
  std::uint64_t max_file_bytes = std::uint64_t{16} << 30;  // one regular file
  std::uint64_t max_total_bytes = std::uint64_t{64} << 30;  // all regular files
  std::uint64_t max_entries = 1'000'000;
  std::size_t max_path_length = 4096;  // entry names and link targets
  // The uncompressed tar stream, headers, skipped content and trailing
  // padding included: what bounds the work a bomb can cause beyond the disk.
  std::uint64_t max_tar_bytes = std::uint64_t{80} << 30;
};

struct LayerOptions {
  LayerLimits limits;
  DeviceNodePolicy device_nodes = DeviceNodePolicy::skip;
  SetidPolicy setid_bits = SetidPolicy::strip;
  OwnershipPolicy ownership = OwnershipPolicy::apply_if_root;
};

struct LayerStats {
  std::uint64_t entries = 0;  // tar headers read, whiteouts and skipped ones included
  std::uint64_t regular_files = 0;
  std::uint64_t directories = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t hardlinks = 0;
  std::uint64_t bytes_written = 0;  // regular file content
  std::uint64_t whiteouts = 0;      // 0:0 character devices made from .wh.NAME
  std::uint64_t opaque_dirs = 0;
  std::uint64_t device_nodes = 0;  // created under DeviceNodePolicy::create
  std::uint64_t skipped_device_nodes = 0;
  LayerCompression compression = LayerCompression::none;
  Digest compressed_digest;  // sha256 of every byte the source produced
  Digest diff_id;            // sha256 of the uncompressed tar, as the image config lists it
};

// Unpacks the layer `source` produces into the directory `root_fd` (borrowed;
// opened with O_PATH or O_RDONLY|O_DIRECTORY). Meant for a fresh, empty
// directory that only this call writes: the caller creates a temporary
// directory and renames it into its store once this succeeds. On failure the
// directory holds part of the layer, and the caller removes it.
//
// The digests are what prove the layer whole and unaltered, and the caller
// must compare them (compressed_digest with the descriptor's digest, diff_id
// with the image config's) before using the directory: a tar cut off at an
// entry boundary reads like a shorter layer.
//
// Later entries replace earlier ones of the same name, as tar does; a
// directory over a directory only updates its metadata. Directories get their
// mode, owner and mtime at the end, after their children were written.
Result<LayerStats> extract_layer(int root_fd, LayerSource source, const LayerOptions& options = {});

}  // namespace berth::fetcher
