// Image sources on the local disk: OCI image layouts (a directory, or a tar
// of one) and `docker save` archives. What they hold is checked exactly as a
// registry's content is: every manifest and blob against its digest and size.

#include <boost/json.hpp>
#include <fmt/format.h>

#include <map>
#include <utility>

#include "berth/fetcher/image_config.hpp"
#include "berth/fetcher/image_source.hpp"
#include "local_files.hpp"

namespace berth::fetcher {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kMaxIndexBytes = 4 << 20;
constexpr std::uint64_t kMaxConfigBytes = 8 << 20;
constexpr std::string_view kRefAnnotation = "org.opencontainers.image.ref.name";

std::string blob_name(const Digest& digest) { return "blobs/" + digest.algorithm + "/" + digest.hex; }

// Streams `name` to `sink`, checking it has the descriptor's size and digest.
Result<void> read_verified(LocalFiles& files, const std::string& name, const Descriptor& descriptor,
                           const RegistryClient::Sink& sink) {
  auto what = fmt::format("{}: blob {}", files.where(), descriptor.digest.str());
  BERTH_TRY(auto hasher, Hasher::create(descriptor.digest.algorithm));
  std::uint64_t seen = 0;
  auto read = files.read(name, descriptor.size, [&](std::string_view chunk) -> Result<void> {
    hasher.update(chunk);
    seen += chunk.size();
    return sink(chunk);
  });
  if (!read) return fail(std::move(read).error().context(what));
  if (seen != descriptor.size) {
    return fail(fmt::format("{}: {} bytes, its descriptor gives {}", what, seen, descriptor.size));
  }
  if (auto digest = hasher.finish(); digest != descriptor.digest) {
    return fail(fmt::format("{}: content has digest {}, expected {}", what, digest.str(), descriptor.digest.str()));
  }
  return {};
}

Result<json::value> parse_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec) return fail(fmt::format("{}: not JSON: {}", what, ec.message()));
  return value;
}

// "a, b" of the names a list offers, for errors.
std::string joined(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// An OCI image layout: oci-layout, index.json and blobs/<algorithm>/<hex>,
// in a directory or an archive.
class OciLayoutSource final : public ImageSource {
 public:
  static Result<std::unique_ptr<ImageSource>> open(const LocalImage& image, std::unique_ptr<LocalFiles> files) {
    std::unique_ptr<OciLayoutSource> source(new OciLayoutSource(image, std::move(files)));
    BERTH_TRY_VOID(source->check_layout());
    BERTH_TRY(source->entry_, source->select_entry());
    return std::unique_ptr<ImageSource>(std::move(source));
  }

  std::string name() const override { return image_.str(); }
  Result<FetchedManifest> manifest() override { return read_manifest(entry_.digest, entry_.media_type); }
  Result<FetchedManifest> manifest(const Digest& digest) override { return read_manifest(digest, {}); }
  Result<void> blob(const Descriptor& blob, const RegistryClient::Sink& sink) override {
    return read_verified(*files_, blob_name(blob.digest), blob, sink);
  }

 private:
  OciLayoutSource(LocalImage image, std::unique_ptr<LocalFiles> files)
      : image_(std::move(image)), files_(std::move(files)) {}

  Result<void> check_layout() {
    auto text = files_->read_all("oci-layout", 4096);
    if (!text && text.error().code() == ENOENT) {
      return fail(fmt::format("{} is not an OCI image layout (it has no oci-layout file)", files_->where()));
    }
    if (!text) return fail(std::move(text).error());
    BERTH_TRY(auto value, parse_json(*text, files_->where() + "/oci-layout"));
    const auto* version = value.is_object() ? value.as_object().if_contains("imageLayoutVersion") : nullptr;
    if (version == nullptr || !version->is_string() || !version->as_string().starts_with("1.")) {
      return fail(fmt::format("{}/oci-layout: imageLayoutVersion is not 1.x", files_->where()));
    }
    return {};
  }

  // The index.json entry the ref annotation names, or its only entry.
  Result<Descriptor> select_entry() {
    auto where = files_->where() + "/index.json";
    BERTH_TRY(auto text, files_->read_all("index.json", kMaxIndexBytes));
    BERTH_TRY(auto parsed, with_context(parse_manifest(media_type::kOciIndex, text), where));
    if (!parsed.index) return fail(where + ": not an image index");
    const auto& entries = parsed.index->manifests;
    std::vector<std::string> refs;
    for (const auto& entry : entries) {
      auto ref = entry.annotations.find(std::string(kRefAnnotation));
      refs.push_back(ref == entry.annotations.end() ? entry.digest.str() : ref->second);
    }
    if (image_.ref.empty()) {
      if (entries.size() == 1) return entries.front();
      return fail(fmt::format("{} holds {} images; name one after the path (:REF) from: {}", files_->where(),
                              entries.size(), joined(refs)));
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (refs[i] == image_.ref) return entries[i];
    }
    return fail(fmt::format("{} has no image named '{}'; it has: {}", files_->where(), image_.ref, joined(refs)));
  }

  Result<FetchedManifest> read_manifest(const Digest& digest, std::string_view media_type) {
    auto where = fmt::format("{}: manifest {}", files_->where(), digest.str());
    FetchedManifest fetched;
    BERTH_TRY(fetched.body, with_context(files_->read_all(blob_name(digest), kMaxIndexBytes), where));
    BERTH_TRY(auto hasher, Hasher::create(digest.algorithm));
    hasher.update(fetched.body);
    fetched.digest = hasher.finish();
    if (fetched.digest != digest) {
      return fail(fmt::format("{}: content has digest {}", where, fetched.digest.str()));
    }
    BERTH_TRY(fetched.parsed, with_context(parse_manifest(media_type, fetched.body), where));
    fetched.media_type = fetched.parsed.image ? fetched.parsed.image->media_type : fetched.parsed.index->media_type;
    return fetched;
  }

  LocalImage image_;
  std::unique_ptr<LocalFiles> files_;
  Descriptor entry_;
};

// What `docker save` (and `skopeo copy ... docker-archive:`) writes: a
// manifest.json listing, per image, its config file, its RepoTags and its
// layer tars, bottom first.
struct ArchivedImage {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

Result<std::vector<ArchivedImage>> parse_archive_manifest(std::string_view text, const std::string& where) {
  BERTH_TRY(auto value, parse_json(text, where));
  if (!value.is_array()) return fail(where + ": not a JSON array");
  std::vector<ArchivedImage> images;
  for (const auto& item : value.as_array()) {
    auto at = fmt::format("{}[{}]", where, images.size());
    const auto* object = item.if_object();
    const auto* config = object ? object->if_contains("Config") : nullptr;
    const auto* layers = object ? object->if_contains("Layers") : nullptr;
    if (config == nullptr || !config->is_string()) return fail(at + ": \"Config\" must be a string");
    if (layers == nullptr || !layers->is_array()) return fail(at + ": \"Layers\" must be an array");
    ArchivedImage image{std::string(config->as_string()), {}, {}};
    for (const auto& layer : layers->as_array()) {
      if (!layer.is_string()) return fail(at + ": \"Layers\" must hold strings");
      image.layers.emplace_back(layer.as_string());
    }
    if (const auto* tags = object->if_contains("RepoTags"); tags && tags->is_array()) {
      for (const auto& tag : tags->as_array()) {
        if (tag.is_string()) image.repo_tags.emplace_back(tag.as_string());
      }
    }
    images.push_back(std::move(image));
  }
  return images;
}

// Whether a RepoTag names `ref`: equal as written, or as normalized
// references ("busybox:latest" is "docker.io/library/busybox:latest").
bool names(const std::string& repo_tag, const std::string& ref) {
  if (repo_tag == ref) return true;
  auto a = parse_image_reference(repo_tag);
  auto b = parse_image_reference(ref);
  return a && b && *a == *b;
}

class DockerArchiveSource final : public ImageSource {
 public:
  static Result<std::unique_ptr<ImageSource>> open(const LocalImage& image, std::unique_ptr<LocalFiles> files) {
    std::unique_ptr<DockerArchiveSource> source(new DockerArchiveSource(image, std::move(files)));
    BERTH_TRY(auto chosen, source->select_image());
    BERTH_TRY_VOID(source->describe(chosen));
    return std::unique_ptr<ImageSource>(std::move(source));
  }

  std::string name() const override { return image_.str(); }
  Result<FetchedManifest> manifest() override { return manifest_; }
  Result<FetchedManifest> manifest(const Digest& digest) override {
    if (digest == manifest_.digest) return manifest_;
    return fail(fmt::format("{}: no manifest {}", files_->where(), digest.str()));
  }
  Result<void> blob(const Descriptor& blob, const RegistryClient::Sink& sink) override {
    auto file = files_by_digest_.find(blob.digest.str());
    if (file == files_by_digest_.end()) return fail(fmt::format("{}: no blob {}", files_->where(), blob.digest.str()));
    return read_verified(*files_, file->second, blob, sink);
  }

 private:
  DockerArchiveSource(LocalImage image, std::unique_ptr<LocalFiles> files)
      : image_(std::move(image)), files_(std::move(files)) {}

  Result<ArchivedImage> select_image() {
    auto where = files_->where() + ": manifest.json";
    auto text = files_->read_all("manifest.json", kMaxIndexBytes);
    if (!text && text.error().code() == ENOENT) {
      return fail(fmt::format("{} is not a docker-archive (it has no manifest.json)", files_->where()));
    }
    if (!text) return fail(std::move(text).error());
    BERTH_TRY(auto images, parse_archive_manifest(*text, where));
    std::vector<std::string> tags;
    for (const auto& image : images) tags.insert(tags.end(), image.repo_tags.begin(), image.repo_tags.end());
    if (image_.ref.empty()) {
      if (images.size() == 1) return images.front();
      return fail(fmt::format("{} holds {} images; name one after the path (:NAME:TAG) from: {}", files_->where(),
                              images.size(), joined(tags)));
    }
    for (const auto& image : images) {
      for (const auto& tag : image.repo_tags) {
        if (names(tag, image_.ref)) return image;
      }
    }
    return fail(fmt::format("{} has no image tagged '{}'; it has: {}", files_->where(), image_.ref, joined(tags)));
  }

  // Writes the OCI manifest of the archived image, each blob named by digest.
  Result<void> describe(const ArchivedImage& image) {
    BERTH_TRY(auto config_text, files_->read_all(image.config, kMaxConfigBytes));
    auto config_digest = sha256_of(config_text);
    BERTH_TRY(auto config, with_context(parse_image_config(config_text), files_->where() + ": " + image.config));
    if (config.diff_ids.size() != image.layers.size()) {
      return fail(fmt::format("{}: the archive lists {} layers and the config {} diff_ids", files_->where(),
                              image.layers.size(), config.diff_ids.size()));
    }
    files_by_digest_[config_digest.str()] = image.config;
    json::array layers;
    for (std::size_t i = 0; i < image.layers.size(); ++i) {
      BERTH_TRY(auto layer, describe_layer(image.layers[i], config.diff_ids[i]));
      files_by_digest_[layer.digest.str()] = image.layers[i];
      layers.push_back(json::object{{"mediaType", layer.media_type}, {"digest", layer.digest.str()},
                                    {"size", layer.size}});
    }
    json::object manifest{
        {"schemaVersion", 2},
        {"mediaType", media_type::kOciManifest},
        {"config", json::object{{"mediaType", media_type::kOciConfig},
                                {"digest", config_digest.str()},
                                {"size", config_text.size()}}},
        {"layers", std::move(layers)}};
    manifest_.body = json::serialize(manifest);
    manifest_.digest = sha256_of(manifest_.body);
    BERTH_TRY(manifest_.parsed, parse_manifest(media_type::kOciManifest, manifest_.body));
    manifest_.media_type = media_type::kOciManifest;
    return {};
  }

  // A layer tar is usually stored uncompressed, so its digest is its diff_id;
  // one stored compressed is hashed to learn its digest.
  Result<Descriptor> describe_layer(const std::string& name, const Digest& diff_id) {
    auto where = fmt::format("{}: layer {}", files_->where(), name);
    Descriptor layer;
    BERTH_TRY(layer.size, with_context(files_->size(name), where));
    BERTH_TRY(auto magic, with_context(files_->read_prefix(name, 4), where));
    if (magic.starts_with("\x1f\x8b")) {
      layer.media_type = media_type::kOciLayerGzip;
    } else if (magic == "\x28\xb5\x2f\xfd") {
      layer.media_type = media_type::kOciLayerZstd;
    } else {
      layer.media_type = media_type::kOciLayer;
      layer.digest = diff_id;
      return layer;
    }
    Sha256 hasher;
    BERTH_TRY_VOID(with_context(files_->read(name, layer.size, [&](std::string_view chunk) -> Result<void> {
                                  hasher.update(chunk);
                                  return {};
                                }),
                                where));
    layer.digest = hasher.finish();
    return layer;
  }

  LocalImage image_;
  std::unique_ptr<LocalFiles> files_;
  FetchedManifest manifest_;
  std::map<std::string, std::string> files_by_digest_;
};

}  // namespace

Result<std::unique_ptr<ImageSource>> open_local_source(const LocalImage& image) {
  auto opened = [&]() -> Result<std::unique_ptr<ImageSource>> {
    switch (image.transport) {
      case LocalTransport::oci_layout: {
        BERTH_TRY(auto files, directory_files(image.path));
        return OciLayoutSource::open(image, std::move(files));
      }
      case LocalTransport::oci_archive: {
        BERTH_TRY(auto files, archive_files(image.path));
        return OciLayoutSource::open(image, std::move(files));
      }
      case LocalTransport::docker_archive: {
        BERTH_TRY(auto files, archive_files(image.path));
        return DockerArchiveSource::open(image, std::move(files));
      }
    }
    return fail("unknown transport");
  }();
  return with_context(std::move(opened), "image " + image.str());
}

}  // namespace berth::fetcher
