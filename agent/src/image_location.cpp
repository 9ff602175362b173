#include "berth/agent/image_location.hpp"

#include <fmt/format.h>

#include <system_error>

namespace berth::agent {

namespace fs = std::filesystem;

namespace {

// As distribution/reference splits a name: the first component is a domain
// only if it has a '.' or a ':' or is "localhost", and more follows it.
bool has_domain(std::string_view name) {
  auto slash = name.find('/');
  if (slash == std::string_view::npos) return false;
  auto first = name.substr(0, slash);
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost";
}

// Whether `path` lies inside `dir` once symlinks are resolved.
bool inside(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  auto real_path = fs::weakly_canonical(path, ec);
  if (ec) return false;
  auto real_dir = fs::weakly_canonical(dir, ec);
  if (ec) return false;
  auto [end, _] = std::mismatch(real_dir.begin(), real_dir.end(), real_path.begin(), real_path.end());
  return end == real_dir.end() && real_path != real_dir;
}

Result<fetcher::ImageLocation> from_archive_directory(const fetcher::ImageReference& reference,
                                                       std::string_view written, const fs::path& dir) {
  if (reference.digest) {
    return fail(fmt::format("image '{}': --docker_registry is a directory of archives, which are found by tag, "
                            "not by digest",
                            written));
  }
  auto tag = reference.tag.value_or("latest");
  // "busybox" as written, then the normalized "library/busybox".
  auto name = written.substr(0, written.find_first_of("@"));
  if (auto colon = name.rfind(':'); colon != std::string_view::npos && name.find('/', colon) == std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::vector<fs::path> candidates{dir / fmt::format("{}:{}.tar", name, tag),
                                   dir / fmt::format("{}:{}.tar", reference.repository, tag)};
  for (const auto& candidate : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && inside(candidate, dir)) {
      return fetcher::ImageLocation(fetcher::LocalImage{fetcher::LocalTransport::docker_archive, candidate});
    }
  }
  return fail(fmt::format("image '{}': no archive {} in --docker_registry {}", written,
                          candidates.front().lexically_relative(dir).string(), dir.string()));
}

}  // namespace

Result<DockerRegistryFlag> parse_docker_registry_flag(std::string_view value) {
  if (value.empty()) return DefaultRegistry{};
  if (value.starts_with('/')) {
    auto dir = fs::path(value).lexically_normal();
    if (!dir.has_filename() && dir != dir.root_path()) dir = dir.parent_path();  // "/srv/images/"
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return fail(fmt::format("--docker_registry {}: not a directory", value));
    return ArchiveDirectory{dir};
  }
  DefaultRegistry registry;
  std::string_view host = value;
  if (host.starts_with("https://")) {
    host.remove_prefix(8);
  } else if (host.starts_with("http://")) {
    host.remove_prefix(7);
    registry.insecure = true;
  } else if (host.find("://") != std::string_view::npos) {
    return fail(fmt::format("--docker_registry {}: only http:// and https:// registries", value));
  }
  while (host.ends_with('/')) host.remove_suffix(1);
  // The host must be one an image name could carry as its domain.
  auto probe = fetcher::parse_image_reference(std::string(host) + "/probe");
  if (host.empty() || host.find('/') != std::string_view::npos || !probe) {
    return fail(fmt::format("--docker_registry {}: not a registry host[:port], URL or absolute directory", value));
  }
  registry.host = probe->registry;
  return registry;
}

Result<fetcher::ImageLocation> resolve_task_image(std::string_view name, const DockerRegistryFlag& registry) {
  BERTH_TRY(auto location, with_context(fetcher::parse_image_location(name), "image"));
  const auto* archives = std::get_if<ArchiveDirectory>(&registry);
  if (const auto* local = std::get_if<fetcher::LocalImage>(&location)) {
    if (archives == nullptr) {
      return fail(fmt::format("image '{}': local images are read only from the directory --docker_registry names, "
                              "and this agent has none",
                              name));
    }
    if (!inside(local->path, archives->dir)) {
      return fail(fmt::format("image '{}': {} is outside --docker_registry {}", name, local->path.string(),
                              archives->dir.string()));
    }
    return location;
  }
  auto reference = std::get<fetcher::ImageReference>(location);
  auto written = name.starts_with("docker://") ? name.substr(9) : name;
  if (has_domain(written)) return location;
  if (archives != nullptr) return from_archive_directory(reference, written, archives->dir);
  const auto& mirror = std::get<DefaultRegistry>(registry);
  if (!mirror.host.empty()) reference.registry = mirror.host;
  return fetcher::ImageLocation(std::move(reference));
}

}  // namespace berth::agent
