#include "support/test_images_oci_layout.hpp"

#include <stdexcept>

#include "support/process.hpp"
#include "support/registry_shell.hpp"

namespace berth::testing {
namespace fs = std::filesystem;
namespace json = boost::json;

json::object OciDescriptor::to_json() const {
  return {{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

OciDescriptor OciDescriptor::from_json(const json::value& value) {
  const auto& object = value.as_object();
  return {std::string(object.at("mediaType").as_string()), std::string(object.at("digest").as_string()),
          json::value_to<std::uint64_t>(object.at("size"))};
}

LayerBlob compress_layer(const fs::path& tar, LayerCompression compression) {
  LayerBlob layer;
  layer.diff_id = sha256_of_file(tar);
  if (compression == LayerCompression::gzip) {
    run_tool({"gzip", "-1", "-n", "-f", tar.string()});
    layer.file = tar.string() + ".gz";
    layer.media_type = std::string(kOciLayerGzip);
  } else {
    run_tool({"zstd", "-1", "-q", "-f", "--rm", tar.string(), "-o", tar.string() + ".zst"});
    layer.file = tar.string() + ".zst";
    layer.media_type = std::string(kOciLayerZstd);
  }
  return layer;
}

OciLayout::OciLayout(fs::path dir) : dir_(std::move(dir)) {
  if (fs::exists(dir_ / "oci-layout")) return;
  fs::create_directories(dir_ / "blobs/sha256");
  write_bytes(dir_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write_bytes(dir_ / "index.json", R"({"schemaVersion":2,"manifests":[]})");
}

fs::path OciLayout::blob_path(std::string_view digest) const {
  if (!digest.starts_with("sha256:")) throw std::invalid_argument("not a sha256 digest: " + std::string(digest));
  return dir_ / "blobs/sha256" / std::string(digest.substr(7));
}

OciDescriptor OciLayout::add_blob(std::string_view bytes, std::string_view media_type) {
  auto digest = sha256_of(bytes);
  write_bytes(blob_path(digest), bytes);
  return {std::string(media_type), digest, bytes.size()};
}

OciDescriptor OciLayout::add_blob_file(const fs::path& file, std::string_view media_type) {
  auto digest = sha256_of_file(file);
  auto size = fs::file_size(file);
  fs::rename(file, blob_path(digest));
  return {std::string(media_type), digest, size};
}

json::value OciLayout::read_json(std::string_view digest) const { return json::parse(read_file(blob_path(digest))); }

OciDescriptor OciLayout::tagged(std::string_view tag) const {
  auto index = json::parse(read_file(dir_ / "index.json"));
  for (const auto& entry : index.at("manifests").as_array()) {
    const auto* annotations = entry.as_object().if_contains("annotations");
    const auto* name = annotations ? annotations->as_object().if_contains("org.opencontainers.image.ref.name") : nullptr;
    if (name && name->as_string() == tag) return OciDescriptor::from_json(entry);
  }
  throw std::runtime_error("registry harness: no tag '" + std::string(tag) + "' in " + dir_.string());
}

void OciLayout::tag(std::string_view tag, const OciDescriptor& target) {
  auto index = json::parse(read_file(dir_ / "index.json"));
  auto& manifests = index.at("manifests").as_array();
  for (auto it = manifests.begin(); it != manifests.end();) {
    const auto* annotations = it->as_object().if_contains("annotations");
    const auto* name = annotations ? annotations->as_object().if_contains("org.opencontainers.image.ref.name") : nullptr;
    it = (name && name->as_string() == tag) ? manifests.erase(it) : it + 1;
  }
  auto entry = target.to_json();
  entry["annotations"] = json::object{{"org.opencontainers.image.ref.name", tag}};
  manifests.push_back(std::move(entry));
  write_bytes(dir_ / "index.json", json::serialize(index));
}

void OciLayout::append_layer(std::string_view from, std::string_view to, const LayerBlob& layer,
                             std::string_view created_by) {
  auto manifest = read_json(tagged(from).digest).as_object();
  auto config = read_json(OciDescriptor::from_json(manifest.at("config")).digest).as_object();
  config["rootfs"].as_object()["diff_ids"].as_array().emplace_back(layer.diff_id);
  if (!config.contains("history")) config["history"] = json::array{};
  config["history"].as_array().push_back(json::object{{"created_by", created_by}});
  auto layer_descriptor = add_blob_file(layer.file, layer.media_type);
  manifest["layers"].as_array().push_back(layer_descriptor.to_json());
  manifest["config"] = add_blob(json::serialize(config), kOciConfig).to_json();
  tag(to, add_blob(json::serialize(manifest), kOciManifest));
}

OciDescriptor OciLayout::write_image(std::string_view tag_name, const json::object& config_without_rootfs,
                                     const std::vector<LayerBlob>& layers) {
  auto config = config_without_rootfs;
  json::array diff_ids;
  json::array layer_descriptors;
  for (const auto& layer : layers) {
    diff_ids.emplace_back(layer.diff_id);
    layer_descriptors.push_back(add_blob_file(layer.file, layer.media_type).to_json());
  }
  config["rootfs"] = json::object{{"type", "layers"}, {"diff_ids", std::move(diff_ids)}};
  json::object manifest{{"schemaVersion", 2},
                        {"mediaType", kOciManifest},
                        {"config", add_blob(json::serialize(config), kOciConfig).to_json()},
                        {"layers", std::move(layer_descriptors)}};
  auto descriptor = add_blob(json::serialize(manifest), kOciManifest);
  tag(tag_name, descriptor);
  return descriptor;
}

}  // namespace berth::testing
