#pragma once
// Where a pull reads an image from. A registry is one place; the others are
// offline copies on the local disk, named with the transports skopeo and
// podman use:
//
//   busybox, host:5000/app:1.0, docker://host:5000/app@sha256:...   a registry
//   oci:/path/to/layout[:REF]            an OCI image layout directory
//   oci-archive:/path/to/image.tar[:REF] the same layout as a tar archive
//   docker-archive:/path/to/image.tar[:NAME:TAG]   `docker save` / skopeo output
//
// REF is the org.opencontainers.image.ref.name annotation of an entry of the
// layout's index.json (skopeo writes the tag there); NAME:TAG is one of the
// archive's RepoTags. Without one, the layout or archive must hold exactly one
// image. A path contains no ':'.
//
// Every source serves the same three things a registry does, and each is
// checked the same way: a manifest read by digest must hash to it, and a blob
// must have its descriptor's size and digest, or the read fails. A
// docker-archive has no distribution manifest; its source writes an OCI
// manifest of the archive's config and layers (an uncompressed layer's digest
// is its diff_id; a compressed one is hashed first), so what reaches the
// store is verified exactly like a registry's content.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/fetcher/manifest.hpp"
#include "berth/fetcher/reference.hpp"
#include "berth/fetcher/registry_client.hpp"

namespace berth::fetcher {

enum class LocalTransport { oci_layout, oci_archive, docker_archive };
std::string_view to_string(LocalTransport transport);  // "oci", "oci-archive", "docker-archive"

struct LocalImage {
  LocalTransport transport;
  std::filesystem::path path;  // absolute and lexically normal
  std::string ref = {};        // empty: the only image there
  // "<transport>:<path>[:<ref>]"; parses back to an equal location.
  std::string str() const;
  bool operator==(const LocalImage&) const = default;
};

using ImageLocation = std::variant<ImageReference, LocalImage>;

// A registry reference (with or without "docker://") or a local image as
// above. A local path must be absolute. Errors name the text.
Result<ImageLocation> parse_image_location(std::string_view text);
std::string to_string(const ImageLocation& location);

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // As the store records it: the normalized reference or the local location.
  virtual std::string name() const = 0;
  // The manifest or index the location names.
  virtual Result<FetchedManifest> manifest() = 0;
  // A manifest by digest (an index's entry).
  virtual Result<FetchedManifest> manifest(const Digest& digest) = 0;
  // Streams a blob, verified as RegistryClient::blob verifies it.
  virtual Result<void> blob(const Descriptor& blob, const RegistryClient::Sink& sink) = 0;
  // Whether blob_from works: worth keeping a broken-off download for.
  virtual bool resumable() const { return false; }
  // A blob from byte `offset` on (RegistryClient::blob_from: the caller checks the digest).
  virtual Result<void> blob_from(const Descriptor& blob, std::uint64_t offset, const RegistryClient::Sink& sink);
};

// A registry through a shared client; `client` must outlive the source.
std::unique_ptr<ImageSource> registry_source(RegistryClient& client, ImageReference reference);

// Opens a local layout or archive and reads what names its image (oci-layout
// and index.json, or manifest.json); errors name the path and what is wrong.
Result<std::unique_ptr<ImageSource>> open_local_source(const LocalImage& image);

}  // namespace berth::fetcher
