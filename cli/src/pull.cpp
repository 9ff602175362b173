#include "pull.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "berth/fetcher/image_source.hpp"
#include "berth/fetcher/puller.hpp"

namespace berth::cli {
namespace {

Result<fetcher::PulledImage> pull_image(const PullOptions& options) {
  BERTH_TRY(auto location, fetcher::parse_image_location(options.image));
  BERTH_TRY(auto store, with_context(fetcher::ImageStore::open(options.image_store_dir), "--image_store_dir"));
  fetcher::RegistryOptions registry{.insecure_registries = options.insecure_registries,
                                    .ca_file = options.registry_ca_file,
                                    .docker_config = options.docker_config};
  BERTH_TRY(auto client, fetcher::RegistryClient::create(registry));
  fetcher::PullOptions pull{.parallel_layers = options.parallel};
  if (!options.platform.empty()) {
    BERTH_TRY(pull.platform, with_context(fetcher::parse_platform(options.platform), "--platform"));
  }
  fetcher::Puller puller(store, *client, pull);
  return puller.pull(location);
}

}  // namespace

CLI::App* add_pull_command(CLI::App& app, PullOptions& options) {
  auto* command = app.add_subcommand(
      "pull", "Pull an image into a local image store: IMAGE is a registry reference, oci:DIR[:REF], "
              "oci-archive:FILE[:REF] or docker-archive:FILE[:NAME:TAG]");
  command->add_option("image", options.image, "The image to pull")->required();
  command->add_option("--image_store_dir", options.image_store_dir,
                      "The image store, e.g. an agent's --image_store_dir (<work_dir>/images by default)")
      ->required();
  command->add_option("--insecure_registries", options.insecure_registries,
                      "Comma-separated host[:port] of registries reached over plain HTTP")
      ->delimiter(',');
  command->add_option("--registry_ca_file", options.registry_ca_file,
                      "PEM file of CAs to trust for registries' TLS certificates, besides the system's")
      ->check(CLI::ExistingFile);
  command->add_option("--docker_config", options.docker_config,
                      "Docker config.json holding registry credentials (\"auths\")");
  command->add_option("--platform", options.platform, "Platform to pick from a multi-platform image (os/arch[/variant])");
  command->add_option("--parallel", options.parallel, "Layers downloaded at once")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  return command;
}

int pull(const PullOptions& options) {
  auto started = std::chrono::steady_clock::now();
  auto pulled = pull_image(options);
  if (!pulled) {
    std::fprintf(stderr, "berth pull: %s\n", pulled.error().what().c_str());
    return 1;
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  const auto& record = pulled->record;
  std::printf("%s\n", record.reference.c_str());
  std::printf("manifest %s, %zu layers (%d fetched, %d already here), %.1f MiB fetched in %.2f s",
              record.manifest_digest.str().c_str(), record.layers.size(), pulled->stats.layers_fetched,
              pulled->stats.layers_present, static_cast<double>(pulled->stats.bytes_fetched) / (1 << 20),
              took.count());
  if (pulled->stats.bytes_resumed > 0) {
    std::printf(" (%.1f MiB more kept from an interrupted pull)",
                static_cast<double>(pulled->stats.bytes_resumed) / (1 << 20));
  }
  std::printf("\n");
  return 0;
}

}  // namespace berth::cli
