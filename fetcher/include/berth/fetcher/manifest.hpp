#pragma once
// Image manifests as registries serve them, in the four formats a pull meets:
//
//   Docker schema2 manifest   application/vnd.docker.distribution.manifest.v2+json
//   Docker manifest list      application/vnd.docker.distribution.manifest.list.v2+json
//   OCI image manifest        application/vnd.oci.image.manifest.v1+json
//   OCI image index           application/vnd.oci.image.index.v1+json
//
// A manifest names one image: its config blob and its layers, bottom first.
// A list or index names manifests, one per platform, and a pull picks the one
// for the machine it runs on. Parsing checks every descriptor's digest and
// size, so nothing later fetches a blob by a name it cannot verify.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/fetcher/digest.hpp"
#include "berth/fetcher/layer_extractor.hpp"

namespace berth::fetcher {

namespace media_type {
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciNondistributableLayer = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciNondistributableLayerGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}  // namespace media_type

// The Accept header of a manifest request: every format above, so that the
// registry serves an OCI manifest as it is rather than answering 404.
std::string manifest_accept_header();

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant = {};  // "v8" for arm64, "v7" for arm; empty: any
  bool operator==(const Platform&) const = default;
};
// "linux/amd64", "linux/arm64/v8"
std::string to_string(const Platform& platform);
// Parses "os/arch[/variant]"; errors name the text.
Result<Platform> parse_platform(std::string_view text);
// The platform this binary was built for (linux/amd64 on x86-64).
Platform host_platform();

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::uint64_t size = 0;
  std::vector<std::string> urls = {};      // foreign/nondistributable layers only
  std::optional<Platform> platform = {};  // entries of a list or index
  // e.g. "org.opencontainers.image.ref.name", which names an OCI layout's images
  std::map<std::string, std::string> annotations = {};
};

struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;  // bottom first
};

struct ImageIndex {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// What a manifest request returned, by its media type (the Content-Type, or
// the document's own mediaType when the registry sent a generic one).
struct ParsedManifest {
  std::optional<ImageManifest> image;
  std::optional<ImageIndex> index;
};
Result<ParsedManifest> parse_manifest(std::string_view content_type, std::string_view body);

bool is_index_media_type(std::string_view media_type);
bool is_manifest_media_type(std::string_view media_type);

// How a layer of this media type is compressed; an error for media types that
// are not layers Berth can unpack.
Result<LayerCompression> layer_compression(std::string_view media_type);

// The index's manifest for `platform`: os and architecture must match; a
// requested variant must match (arm64 entries without one count as "v8"),
// and without a requested variant the entry with none, or else the first, is
// taken. Errors list the platforms the index offers.
Result<Descriptor> select_platform(const ImageIndex& index, const Platform& platform);

}  // namespace berth::fetcher
