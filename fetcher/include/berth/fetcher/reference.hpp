#pragma once
// Docker image references ("alpine", "ghcr.io/org/app:1.2",
// "localhost:5000/x@sha256:..."), parsed by the grammar of
// distribution/reference and normalized the way `docker pull` does:
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] path            (at most 255 characters)
//   domain           := host [ ":" port ]
//   host             := domain-component { "." domain-component } | "[" ipv6 "]"
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   port             := [0-9]+
//   path             := path-component { "/" path-component }
//   path-component   := [a-z0-9]+ { separator [a-z0-9]+ }
//   separator        := "." | "_" | "__" | "-"+
//   tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//
// The first "/"-separated component is the domain only if it contains "." or
// ":" or is "localhost"; otherwise the whole name is a path on Docker Hub.

#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/fetcher/digest.hpp"

namespace berth::fetcher {

// Docker Hub is written "docker.io" but served from another host.
inline constexpr std::string_view kDockerHubDomain = "docker.io";
inline constexpr std::string_view kDockerHubRegistry = "registry-1.docker.io";

struct ImageReference {
  std::string registry;    // host[:port] to contact: "registry-1.docker.io", "localhost:5000"
  std::string repository;  // path within the registry: "library/alpine"
  std::optional<std::string> tag;
  std::optional<Digest> digest;  // when set, the content is pinned and the tag only informative

  // The registry as people write it: "docker.io" for Docker Hub.
  std::string domain() const;
  // "<domain>/<repository>[:<tag>][@<digest>]"; parses back to an equal reference.
  std::string str() const;
  bool operator==(const ImageReference&) const = default;
};

// Normalizes as `docker pull` does: no domain (or "docker.io", or the legacy
// "index.docker.io") means Docker Hub, where a one-component path gets the
// "library/" prefix of official images; neither tag nor digest means tag
// "latest". Unlike docker, an explicit "registry-1.docker.io" is Docker Hub
// too, so that str() always parses back to an equal reference. Errors name
// the input and what is wrong with it.
Result<ImageReference> parse_image_reference(std::string_view text);

}  // namespace berth::fetcher
