#pragma once
// Pulls an image from a registry, or from an OCI layout or archive on the
// local disk (image_source.hpp), into the ImageStore: the manifest (through
// an index to the platform's manifest), the config, and every layer not yet
// in the store, several at a time. Each layer is unpacked while it downloads
// (the download feeds the extractor through a socket pair), and is committed
// only when its compressed digest matches the manifest and its diff_id the
// config. Pulls of the same layer run once: in one process the other pulls
// wait for the first; across processes sharing the store, the store's layer
// lock makes them wait, and they then find the layer there.
//
// A registry download is also kept, as it arrives, in the store's partial
// download of the layer: a pull that was killed, stopped or failed midway
// leaves it, and the next pull of the layer replays it into the extractor and
// asks the registry (Range) for the rest only. The whole is checked as
// always; kept bytes that do not check out are dropped, and the layer is
// fetched whole.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/fetcher/image_config.hpp"
#include "berth/fetcher/image_source.hpp"
#include "berth/fetcher/image_store.hpp"
#include "berth/fetcher/layer_extractor.hpp"
#include "berth/fetcher/manifest.hpp"
#include "berth/fetcher/reference.hpp"
#include "berth/fetcher/registry_client.hpp"

namespace berth::fetcher {

struct PullOptions {
  int parallel_layers = 3;
  Platform platform = host_platform();
  LayerOptions layer = {};
};

struct PullStats {
  int layers_fetched = 0;
  int layers_present = 0;  // already in the store
  std::uint64_t bytes_fetched = 0;  // downloaded by this pull
  std::uint64_t bytes_resumed = 0;  // kept from downloads earlier pulls broke off
};

struct PulledImage {
  ImageRecord record;
  ImageConfig config;
  std::vector<std::filesystem::path> layer_dirs;  // bottom first
  PullStats stats;
};

class Puller {
 public:
  Puller(ImageStore& store, RegistryClient& client, PullOptions options = {});
  ~Puller();
  Puller(const Puller&) = delete;
  Puller& operator=(const Puller&) = delete;

  // Thread-safe. Errors name the image and the layer or blob that failed;
  // nothing partial is left in the store. An image whose config names
  // another platform than options.platform is refused.
  Result<PulledImage> pull(const ImageReference& reference);
  Result<PulledImage> pull(const ImageLocation& location);
  Result<PulledImage> pull(ImageSource& source);

  // Ends the pulls in progress, and any later one, with an ECANCELED error
  // as soon as their downloads next deliver bytes; layers already committed
  // stay in the store. For a process that is stopping.
  void cancel() { cancelled_ = true; }

  // The image the store already holds under `name` (an ImageSource's name()),
  // with every layer and its config present and verified; nullopt otherwise.
  Result<std::optional<PulledImage>> stored(const std::string& name);

 private:
  struct InFlight;
  Result<PulledImage> pull_from(ImageSource& source);
  Result<void> fetch_layers(ImageSource& source, const ImageManifest& manifest, const ImageConfig& config,
                            PullStats& stats);
  Result<void> fetch_layer(ImageSource& source, const Descriptor& layer, const Digest& diff_id, PullStats& stats);
  // The layer's bytes resumed from a download an earlier pull broke off.
  Result<std::uint64_t> unpack(ImageSource& source, const Descriptor& layer, const Digest& diff_id);

  ImageStore& store_;
  RegistryClient& client_;
  PullOptions options_;
  std::unique_ptr<InFlight> in_flight_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace berth::fetcher
