#pragma once
// Direct edits of an OCI image layout (image-spec image-layout.md: an
// `oci-layout` file, `index.json` naming manifests by the annotation
// org.opencontainers.image.ref.name, and content-addressed `blobs/sha256/`),
// for what umoci cannot do: layers we write ourselves (opaque whiteouts, zstd,
// random data) and image indexes.

#include <boost/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace berth::testing {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";

enum class LayerCompression { gzip, zstd };

struct OciDescriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  std::uint64_t size = 0;
  boost::json::object to_json() const;
  static OciDescriptor from_json(const boost::json::value& value);
};

// A compressed layer ready to go into blobs/, with the digest of its uncompressed tar.
struct LayerBlob {
  std::filesystem::path file;
  std::string media_type;
  std::string diff_id;
};

// Compresses `tar` (gzip -n or zstd, level 1: test layers need speed, not ratio)
// next to it; the tar itself is removed.
LayerBlob compress_layer(const std::filesystem::path& tar, LayerCompression compression);

class OciLayout {
 public:
  explicit OciLayout(std::filesystem::path dir);  // creates an empty layout when `dir` holds none
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path blob_path(std::string_view digest) const;

  OciDescriptor add_blob(std::string_view bytes, std::string_view media_type);
  OciDescriptor add_blob_file(const std::filesystem::path& file, std::string_view media_type);  // moves it in
  boost::json::value read_json(std::string_view digest) const;

  OciDescriptor tagged(std::string_view tag) const;
  void tag(std::string_view tag, const OciDescriptor& target);  // replaces an existing tag

  // Image `from` plus `layer` on top, tagged `to` (may equal `from`).
  void append_layer(std::string_view from, std::string_view to, const LayerBlob& layer, std::string_view created_by);
  // A new single-platform image from scratch.
  OciDescriptor write_image(std::string_view tag, const boost::json::object& config_without_rootfs,
                            const std::vector<LayerBlob>& layers);

 private:
  std::filesystem::path dir_;
};

}  // namespace berth::testing
