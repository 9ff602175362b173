#include "berth/fetcher/manifest.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace berth::fetcher {
namespace {

namespace json = boost::json;
using namespace media_type;

constexpr std::array kManifestTypes{kDockerManifest, kOciManifest};
constexpr std::array kIndexTypes{kDockerManifestList, kOciIndex};

// "application/json; charset=utf-8" -> "application/json"
std::string_view bare_media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  while (!content_type.empty() && content_type.front() == ' ') content_type.remove_prefix(1);
  return content_type;
}

Result<std::string> string_field(const json::object& object, std::string_view key, std::string_view where) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return fail(fmt::format("{}: \"{}\" must be a string", where, key));
  return std::string(value->as_string());
}

Result<Platform> parse_platform_object(const json::value& value, std::string_view where) {
  if (!value.is_object()) return fail(fmt::format("{}: \"platform\" must be an object", where));
  const auto& object = value.as_object();
  Platform platform;
  BERTH_TRY(platform.os, string_field(object, "os", std::string(where) + ".platform"));
  BERTH_TRY(platform.architecture, string_field(object, "architecture", std::string(where) + ".platform"));
  if (const auto* variant = object.if_contains("variant"); variant && variant->is_string()) {
    platform.variant = std::string(variant->as_string());
  }
  return platform;
}

Result<Descriptor> parse_descriptor(const json::value& value, const std::string& where) {
  if (!value.is_object()) return fail(where + ": a descriptor must be an object");
  const auto& object = value.as_object();
  Descriptor descriptor;
  BERTH_TRY(descriptor.media_type, string_field(object, "mediaType", where));
  BERTH_TRY(auto digest_text, string_field(object, "digest", where));
  BERTH_TRY(descriptor.digest, with_context(parse_digest(digest_text), where + ".digest"));
  const auto* size = object.if_contains("size");
  if (size == nullptr || !(size->is_int64() || size->is_uint64()) || (size->is_int64() && size->as_int64() < 0)) {
    return fail(where + ": \"size\" must be a non-negative integer");
  }
  descriptor.size = size->is_uint64() ? size->as_uint64() : static_cast<std::uint64_t>(size->as_int64());
  if (const auto* urls = object.if_contains("urls")) {
    if (!urls->is_array()) return fail(where + ": \"urls\" must be an array");
    for (const auto& url : urls->as_array()) {
      if (!url.is_string()) return fail(where + ": \"urls\" must hold strings");
      descriptor.urls.emplace_back(url.as_string());
    }
  }
  if (const auto* platform = object.if_contains("platform")) {
    BERTH_TRY(descriptor.platform, parse_platform_object(*platform, where));
  }
  if (const auto* annotations = object.if_contains("annotations")) {
    if (!annotations->is_object()) return fail(where + ": \"annotations\" must be an object");
    for (const auto& [key, value] : annotations->as_object()) {
      if (!value.is_string()) return fail(fmt::format("{}: annotation \"{}\" must be a string", where, key));
      descriptor.annotations.emplace(key, value.as_string());
    }
  }
  return descriptor;
}

Result<std::vector<Descriptor>> parse_descriptors(const json::object& document, std::string_view key) {
  const auto* array = document.if_contains(key);
  if (array == nullptr || !array->is_array()) return fail(fmt::format("\"{}\" must be an array", key));
  std::vector<Descriptor> out;
  for (std::size_t i = 0; i < array->as_array().size(); ++i) {
    BERTH_TRY(auto descriptor, parse_descriptor(array->as_array()[i], fmt::format("{}[{}]", key, i)));
    out.push_back(std::move(descriptor));
  }
  return out;
}

// The media type the document is, from the response's Content-Type and its
// own mediaType field, which must agree when both name a manifest type: a
// document that claims to be one thing and is served as another is refused
// rather than guessed at.
Result<std::string> document_media_type(std::string_view content_type, const json::object& document) {
  std::string declared;
  if (const auto* field = document.if_contains("mediaType")) {
    if (!field->is_string()) return fail("\"mediaType\" must be a string");
    declared = std::string(field->as_string());
  }
  auto served = std::string(bare_media_type(content_type));
  bool served_known = is_manifest_media_type(served) || is_index_media_type(served);
  if (served_known && !declared.empty() && declared != served) {
    return fail(fmt::format("served as {} but its mediaType is {}", served, declared));
  }
  if (served_known) return served;
  if (!declared.empty()) return declared;
  // An OCI document may omit mediaType; its shape says what it is.
  if (document.contains("manifests")) return std::string(kOciIndex);
  if (document.contains("layers")) return std::string(kOciManifest);
  return fail(fmt::format("cannot tell what kind of manifest this is (Content-Type \"{}\", no mediaType)", served));
}

}  // namespace

std::string manifest_accept_header() {
  return fmt::format("{}, {}, {}, {}", kOciManifest, kOciIndex, kDockerManifest, kDockerManifestList);
}

std::string to_string(const Platform& platform) {
  auto text = platform.os + "/" + platform.architecture;
  if (!platform.variant.empty()) text += "/" + platform.variant;
  return text;
}

Result<Platform> parse_platform(std::string_view text) {
  Platform platform;
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    auto slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() ||
      (parts.size() == 3 && parts[2].empty())) {
    return fail(fmt::format("platform '{}': expecting os/architecture[/variant], e.g. linux/amd64", text));
  }
  platform.os = parts[0];
  platform.architecture = parts[1];
  if (parts.size() == 3) platform.variant = parts[2];
  return platform;
}

Platform host_platform() {
#if defined(__x86_64__)
  return {"linux", "amd64", ""};
#elif defined(__aarch64__)
  return {"linux", "arm64", "v8"};
#else
#error "host_platform: add this architecture's OCI name"
#endif
}

bool is_index_media_type(std::string_view media_type) {
  return std::find(kIndexTypes.begin(), kIndexTypes.end(), media_type) != kIndexTypes.end();
}

bool is_manifest_media_type(std::string_view media_type) {
  return std::find(kManifestTypes.begin(), kManifestTypes.end(), media_type) != kManifestTypes.end();
}

Result<ParsedManifest> parse_manifest(std::string_view content_type, std::string_view body) {
  auto parsed = [&]() -> Result<ParsedManifest> {
    boost::system::error_code ec;
    auto value = json::parse(body, ec);
    if (ec) return fail("not JSON: " + ec.message());
    if (!value.is_object()) return fail("not a JSON object");
    const auto& document = value.as_object();
    const auto* schema = document.if_contains("schemaVersion");
    if (schema == nullptr || !schema->is_int64()) return fail("\"schemaVersion\" must be an integer");
    if (schema->as_int64() == 1) return fail("Docker schema1 manifests are not supported (deprecated since 2017)");
    if (schema->as_int64() != 2) return fail(fmt::format("schemaVersion {} is not 2", schema->as_int64()));
    BERTH_TRY(auto type, document_media_type(content_type, document));
    ParsedManifest out;
    if (is_index_media_type(type)) {
      BERTH_TRY(auto manifests, parse_descriptors(document, "manifests"));
      out.index = ImageIndex{type, std::move(manifests)};
    } else if (is_manifest_media_type(type)) {
      const auto* config = document.if_contains("config");
      if (config == nullptr) return fail("\"config\" is missing");
      BERTH_TRY(auto config_descriptor, parse_descriptor(*config, "config"));
      BERTH_TRY(auto layers, parse_descriptors(document, "layers"));
      out.image = ImageManifest{type, std::move(config_descriptor), std::move(layers)};
    } else {
      return fail(fmt::format("media type {} is not an image manifest or index", type));
    }
    return out;
  }();
  return with_context(std::move(parsed), "manifest");
}

Result<LayerCompression> layer_compression(std::string_view media_type) {
  using enum LayerCompression;
  if (media_type == kDockerLayerGzip || media_type == kDockerForeignLayerGzip || media_type == kOciLayerGzip ||
      media_type == kOciNondistributableLayerGzip) {
    return gzip;
  }
  if (media_type == kOciLayer || media_type == kOciNondistributableLayer) return none;
  if (media_type == kOciLayerZstd) return zstd;
  return fail(fmt::format("layer media type {} is not one Berth can unpack (tar, tar+gzip, tar+zstd)", media_type));
}

Result<Descriptor> select_platform(const ImageIndex& index, const Platform& wanted) {
  auto variant_of = [](const Platform& p) {
    return p.variant.empty() && p.architecture == "arm64" ? std::string("v8") : p.variant;
  };
  const Descriptor* chosen = nullptr;
  std::vector<std::string> offered;
  for (const auto& entry : index.manifests) {
    if (!entry.platform) continue;
    offered.push_back(to_string(*entry.platform));
    if (entry.platform->os != wanted.os || entry.platform->architecture != wanted.architecture) continue;
    if (!is_manifest_media_type(entry.media_type)) continue;
    if (!wanted.variant.empty()) {
      if (variant_of(*entry.platform) != variant_of(wanted)) continue;
      chosen = &entry;
      break;
    }
    if (chosen == nullptr || (!chosen->platform->variant.empty() && entry.platform->variant.empty())) chosen = &entry;
  }
  if (chosen == nullptr) {
    std::string list;
    for (const auto& p : offered) list += (list.empty() ? "" : ", ") + p;
    return fail(fmt::format("no image for platform {} in the index (it offers: {})", to_string(wanted),
                            list.empty() ? "no platforms" : list));
  }
  return *chosen;
}

}  // namespace berth::fetcher
