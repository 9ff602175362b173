#include "support/test_images.hpp"

#include <sys/stat.h>

#include <boost/json.hpp>

#include <fstream>
#include <stdexcept>

#include "support/registry_shell.hpp"
#include "support/temp_dir.hpp"

namespace berth::testing {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool is_index_type(std::string_view media_type) {
  return media_type == kOciIndex || media_type == kDockerManifestList;
}

// Incompressible and reproducible: splitmix64.
void write_random(const fs::path& file, std::uint64_t size, std::uint64_t seed) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  while (size > 0) {
    for (auto& word : block) {
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
    auto chunk = std::min<std::uint64_t>(size, block.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(chunk));
    size -= chunk;
  }
  if (!out.flush()) throw std::runtime_error("registry harness: cannot write " + file.string());
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

std::string TestImage::reference() const { return registry + "/" + repository + ":" + tag; }

std::string TestImage::digest_reference() const { return registry + "/" + repository + "@" + manifest_digest; }

std::vector<std::string> TestImage::layer_digests() const {
  std::vector<std::string> digests;
  for (const auto& layer : layers) digests.push_back(layer.digest);
  return digests;
}

const TestImage& TestImage::platform(std::string_view architecture) const {
  for (const auto& image : platforms) {
    if (image.config.architecture == architecture) return image;
  }
  throw std::out_of_range("registry harness: no " + std::string(architecture) + " image in " + reference());
}

TestImages::TestImages(TestRegistry& registry) : registry_(registry), layout_(TestImageLayout::shared()) {}

const TestImage& TestImages::busybox(ManifestFormat format) { return pushed("busybox", "busybox", format); }
const TestImage& TestImages::layered(ManifestFormat format) { return pushed("layered", "layered", format); }
const TestImage& TestImages::multi_arch(ManifestFormat format) { return pushed("multiarch", "multiarch", format); }
const TestImage& TestImages::escape(ManifestFormat format) { return pushed("escape", "escape", format); }

const TestImage& TestImages::pushed(std::string_view layout_tag, std::string_view repository, ManifestFormat format) {
  auto key = std::make_pair(std::string(repository), format);
  if (auto found = pushed_.find(key); found != pushed_.end()) return found->second;
  std::string tag = format == ManifestFormat::docker ? "docker" : "oci";
  auto digest = push(layout_->dir(), layout_tag, repository, tag, format);
  auto image = describe(repository, tag);
  if (image.manifest_digest != digest) {
    throw std::runtime_error("registry harness: skopeo pushed " + digest + " but the registry serves " +
                             image.manifest_digest);
  }
  if (image.is_index()) {
    for (auto& platform : image.platforms) {
      auto platform_tag = "multiarch-" + platform.config.architecture;
      platform.config = layout_->config(platform_tag);
      platform.rootfs = layout_->rootfs(platform_tag);
    }
  } else {
    image.config = layout_->config(layout_tag);
    image.rootfs = layout_->rootfs(layout_tag);
  }
  return pushed_.emplace(key, std::move(image)).first->second;
}

std::string TestImages::push(const fs::path& layout_dir, std::string_view layout_tag, std::string_view repository,
                             std::string_view tag, ManifestFormat format) const {
  auto digest_file = registry_.dir() / "skopeo-digest";
  std::vector<std::string> argv{"skopeo", "copy", "--quiet", "--format",
                                format == ManifestFormat::docker ? "v2s2" : "oci", "--digestfile", digest_file.string()};
  if (OciLayout(layout_dir).tagged(layout_tag).media_type == kOciIndex) argv.push_back("--all");
  for (auto& flag : registry_.skopeo_destination_flags()) argv.push_back(std::move(flag));
  argv.push_back("oci:" + layout_dir.string() + ":" + std::string(layout_tag));
  argv.push_back("docker://" + registry_.address() + "/" + std::string(repository) + ":" + std::string(tag));
  run_tool(argv, std::chrono::minutes(10));
  auto digest = trim(read_file(digest_file));
  fs::remove(digest_file);
  return digest;
}

TestImage TestImages::describe(std::string_view repository, std::string_view reference) const {
  auto target = "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  auto accept = "Accept: " + std::string(kOciManifest) + ", " + std::string(kOciIndex) + ", " +
                std::string(kDockerManifest) + ", " + std::string(kDockerManifestList);
  auto reply = registry_.get(target, Caller::authorized, {accept});
  if (reply.status != 200) {
    throw std::runtime_error("registry harness: GET " + target + ": " + std::to_string(reply.status) + " " +
                             reply.body + reply.error);
  }
  TestImage image;
  image.registry = registry_.address();
  image.repository = repository;
  if (!reference.starts_with("sha256:")) image.tag = reference;
  image.manifest = std::move(reply.body);
  image.media_type = reply.header("content-type").substr(0, reply.header("content-type").find(';'));
  image.manifest_digest = reply.header("docker-content-digest");
  if (sha256_of(image.manifest) != image.manifest_digest) {
    throw std::runtime_error("registry harness: " + target + " is not what Docker-Content-Digest says");
  }
  auto manifest = json::parse(image.manifest).as_object();
  if (is_index_type(image.media_type)) {
    for (const auto& entry : manifest.at("manifests").as_array()) {
      auto child = describe(repository, entry.at("digest").as_string());
      const auto& platform = entry.at("platform").as_object();
      child.config.architecture = platform.at("architecture").as_string();
      child.config.os = platform.at("os").as_string();
      image.platforms.push_back(std::move(child));
    }
    return image;
  }
  image.config_digest = manifest.at("config").at("digest").as_string();
  for (const auto& layer : manifest.at("layers").as_array()) image.layers.push_back(OciDescriptor::from_json(layer));
  return image;
}

TestImage TestImages::large(const LargeImageRequest& request) {
  if (request.compression == LayerCompression::zstd && request.format == ManifestFormat::docker) {
    throw std::invalid_argument("registry harness: Docker schema2 has no zstd layers");
  }
  if (request.layers < 1) throw std::invalid_argument("registry harness: an image needs a layer");
  TempDir work;
  OciLayout layout(work / "layout");
  ExpectedRootfs rootfs{.present = {expected_directory("/large")}};
  std::vector<LayerBlob> layers;
  json::object config{{"architecture", "amd64"}, {"os", "linux"}, {"config", json::object{}}};
  if (request.on_busybox) {
    auto base = layout_->layout();
    auto manifest = base.read_json(base.tagged("busybox").digest);
    auto base_config = base.read_json(manifest.at("config").at("digest").as_string()).as_object();
    const auto& diff_ids = base_config.at("rootfs").at("diff_ids").as_array();
    const auto& base_layers = manifest.at("layers").as_array();
    for (std::size_t i = 0; i < base_layers.size(); ++i) {
      auto layer = OciDescriptor::from_json(base_layers[i]);
      auto copy = work / ("base-" + std::to_string(i));
      fs::copy_file(base.blob_path(layer.digest), copy);
      layers.push_back({copy, layer.media_type, std::string(diff_ids.at(i).as_string())});
    }
    config["config"] = base_config.at("config");
    rootfs.others = OtherFiles::allowed;
  }
  auto count = static_cast<std::uint64_t>(request.layers);
  for (std::uint64_t i = 0; i < count; ++i) {
    auto name = "large/layer-" + std::to_string(i) + ".bin";
    auto staging = work / ("stage-" + std::to_string(i));
    fs::create_directories(staging / "large");
    ::chmod((staging / "large").c_str(), 0755);
    auto size = request.total_bytes / count + (i + 1 == count ? request.total_bytes % count : 0);
    write_random(staging / name, size, request.seed * 1000 + i);
    ::chmod((staging / name).c_str(), 0644);
    rootfs.present.push_back(expected_copy_of("/" + name, staging / name));
    auto tar = work / ("layer-" + std::to_string(i) + ".tar");
    run_tool({"tar", "--create", "--file", tar.string(), "--directory", staging.string(), "--no-recursion",
              "--numeric-owner", "--owner=0", "--group=0", "--mtime=@1577836800", "large", name});
    fs::remove_all(staging);
    layers.push_back(compress_layer(tar, request.compression));
  }
  layout.write_image("large", config, layers);
  auto digest = push(layout.dir(), "large", request.repository, request.tag, request.format);
  auto image = describe(request.repository, request.tag);
  if (image.manifest_digest != digest) throw std::runtime_error("registry harness: pushed and served digests differ");
  image.config = {.architecture = "amd64", .os = "linux"};
  image.rootfs = std::move(rootfs);
  return image;
}

}  // namespace berth::testing
