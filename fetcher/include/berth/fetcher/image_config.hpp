#pragma once
// The image configuration blob (OCI image-spec config.json, which Docker's
// application/vnd.docker.container.image.v1+json shares): what a container of
// the image runs by default, and the diff_ids that identify its layers
// uncompressed.

#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/fetcher/digest.hpp"

namespace berth::fetcher {

struct ImageConfig {
  std::string os = {};
  std::string architecture = {};
  std::string variant = {};
  std::vector<std::string> entrypoint = {};
  std::vector<std::string> cmd = {};
  std::vector<std::string> env = {};  // KEY=VALUE
  std::string working_dir = {};
  std::string user = {};
  std::vector<std::string> exposed_ports = {};  // "80/tcp"
  std::vector<Digest> diff_ids = {};       // bottom layer first
};

// Errors name the field. Absent optional fields are empty; rootfs.diff_ids
// must be there (and rootfs.type "layers").
Result<ImageConfig> parse_image_config(std::string_view json);

}  // namespace berth::fetcher
