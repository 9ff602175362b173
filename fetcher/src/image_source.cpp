#include "berth/fetcher/image_source.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace berth::fetcher {

namespace fs = std::filesystem;

namespace {

struct TransportName {
  LocalTransport transport;
  std::string_view prefix;
};
constexpr std::array kTransports{
    TransportName{LocalTransport::oci_archive, "oci-archive:"},
    TransportName{LocalTransport::docker_archive, "docker-archive:"},
    TransportName{LocalTransport::oci_layout, "oci:"},
};

Result<LocalImage> parse_local(LocalTransport transport, std::string_view rest, std::string_view text) {
  auto colon = rest.find(':');
  LocalImage image{transport, fs::path(rest.substr(0, colon))};
  if (colon != std::string_view::npos) image.ref = std::string(rest.substr(colon + 1));
  if (image.path.empty()) return fail(fmt::format("image '{}': no path after '{}:'", text, to_string(transport)));
  if (!image.path.is_absolute()) {
    return fail(fmt::format("image '{}': the path {} must be absolute", text, image.path.string()));
  }
  if (colon != std::string_view::npos && image.ref.empty()) {
    return fail(fmt::format("image '{}': empty name after the path's ':'", text));
  }
  image.path = image.path.lexically_normal();
  return image;
}

class RegistrySource final : public ImageSource {
 public:
  RegistrySource(RegistryClient& client, ImageReference reference)
      : client_(client), reference_(std::move(reference)) {}
  std::string name() const override { return reference_.str(); }
  Result<FetchedManifest> manifest() override { return client_.manifest(reference_); }
  Result<FetchedManifest> manifest(const Digest& digest) override { return client_.manifest(reference_, digest); }
  Result<void> blob(const Descriptor& blob, const RegistryClient::Sink& sink) override {
    return client_.blob(reference_, blob, sink);
  }
  bool resumable() const override { return true; }
  Result<void> blob_from(const Descriptor& blob, std::uint64_t offset, const RegistryClient::Sink& sink) override {
    return client_.blob_from(reference_, blob, offset, sink);
  }

 private:
  RegistryClient& client_;
  ImageReference reference_;
};

}  // namespace

Result<void> ImageSource::blob_from(const Descriptor& blob, std::uint64_t offset, const RegistryClient::Sink& sink) {
  if (offset == 0) return this->blob(blob, sink);
  return fail(fmt::format("{}: blob {} cannot be read from byte {}", name(), blob.digest.str(), offset));
}

std::string_view to_string(LocalTransport transport) {
  switch (transport) {
    case LocalTransport::oci_layout: return "oci";
    case LocalTransport::oci_archive: return "oci-archive";
    case LocalTransport::docker_archive: return "docker-archive";
  }
  return "?";
}

std::string LocalImage::str() const {
  auto out = fmt::format("{}:{}", to_string(transport), path.string());
  if (!ref.empty()) out += ":" + ref;
  return out;
}

Result<ImageLocation> parse_image_location(std::string_view text) {
  for (const auto& [transport, prefix] : kTransports) {
    if (!text.starts_with(prefix)) continue;
    auto local = parse_local(transport, text.substr(prefix.size()), text);
    if (local) return ImageLocation(std::move(*local));
    // "oci:5000/app" is a registry on host "oci"; a relative path is an error.
    if (auto reference = parse_image_reference(text); reference && !text.substr(prefix.size()).empty() &&
                                                     text[prefix.size()] != '/') {
      return ImageLocation(std::move(*reference));
    }
    return fail(std::move(local).error());
  }
  constexpr std::string_view kDocker = "docker://";
  auto name = text.starts_with(kDocker) ? text.substr(kDocker.size()) : text;
  BERTH_TRY(auto reference, parse_image_reference(name));
  return ImageLocation(std::move(reference));
}

std::string to_string(const ImageLocation& location) {
  if (const auto* reference = std::get_if<ImageReference>(&location)) return reference->str();
  return std::get<LocalImage>(location).str();
}

std::unique_ptr<ImageSource> registry_source(RegistryClient& client, ImageReference reference) {
  return std::make_unique<RegistrySource>(client, std::move(reference));
}

}  // namespace berth::fetcher
