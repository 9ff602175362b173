#pragma once
// Where the agent pulls a task's image from, given --docker_registry as
// Mesos reads that flag:
//
//   (empty)                  Docker Hub is the default registry
//   host[:port], https://... the default registry for names without a domain
//                            (a Docker Hub mirror, or a private registry);
//                            http://host[:port] also speaks plain HTTP to it
//   /absolute/directory      images are `docker save` archives there, named
//                            <repository>:<tag>.tar ("busybox:latest.tar" or
//                            "library/busybox:latest.tar"), as Mesos's
//                            local puller finds them; no registry is asked
//
// A name with a domain ("registry.local:5000/app:1") always goes to that
// registry. A name with a local transport (oci:, oci-archive:,
// docker-archive:, see fetcher/image_source.hpp) is read from the disk only
// when --docker_registry is a directory and the path lies inside it: no
// framework may have the agent read arbitrary files of the host.

#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

#include "berth/common/error.hpp"
#include "berth/fetcher/image_source.hpp"

namespace berth::agent {

struct DefaultRegistry {
  std::string host;       // host[:port]; empty: Docker Hub
  bool insecure = false;  // written http://
};
struct ArchiveDirectory {
  std::filesystem::path dir;  // absolute, lexically normal
};
using DockerRegistryFlag = std::variant<DefaultRegistry, ArchiveDirectory>;

// Errors name the flag and what is wrong with its value.
Result<DockerRegistryFlag> parse_docker_registry_flag(std::string_view value);

// The location of the image a task names; errors name the image.
Result<fetcher::ImageLocation> resolve_task_image(std::string_view name, const DockerRegistryFlag& registry);

}  // namespace berth::agent
