#pragma once
// `berth pull IMAGE`: pulls an image from a registry, an OCI layout or an
// archive into an image store on this machine, without an agent: to fill an
// agent's store ahead of its tasks (also on hosts that cannot reach a
// registry), or to check that an image pulls and verifies. It is safe to run
// beside an agent using the same store: the store's locks keep them apart.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace berth::cli {

struct PullOptions {
  std::string image;
  std::string image_store_dir;
  std::vector<std::string> insecure_registries;
  std::string registry_ca_file;
  std::string docker_config;
  std::string platform;  // "os/arch[/variant]"; empty: this machine's
  int parallel = 3;
};

CLI::App* add_pull_command(CLI::App& app, PullOptions& options);

// Prints what was pulled; returns the exit code.
int pull(const PullOptions& options);

}  // namespace berth::cli
