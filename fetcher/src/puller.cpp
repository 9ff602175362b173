#include "berth/fetcher/puller.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "berth/common/fd.hpp"
#include "berth/common/files.hpp"
#include "berth/common/log.hpp"

namespace berth::fetcher {

namespace fs = std::filesystem;

// Layers being fetched in this process, by digest: a second pull of one
// waits for the first rather than downloading it again.
struct Puller::InFlight {
  std::mutex mutex;
  std::map<std::string, std::shared_future<Result<void>>> layers;
};

Puller::Puller(ImageStore& store, RegistryClient& client, PullOptions options)
    : store_(store), client_(client), options_(std::move(options)), in_flight_(std::make_unique<InFlight>()) {}

Puller::~Puller() = default;

namespace {

// Stores a small blob (manifest, config) fetched whole.
Result<void> keep_blob(BlobStore& blobs, const Digest& digest, std::string_view content) {
  if (blobs.contains(digest)) return {};
  return blobs.put(digest, content);
}

Result<std::string> fetch_small_blob(ImageSource& source, const Descriptor& descriptor, std::uint64_t limit) {
  if (descriptor.size > limit) {
    return fail(fmt::format("blob {} is {} bytes, more than the {} accepted", descriptor.digest.str(), descriptor.size,
                            limit));
  }
  std::string content;
  BERTH_TRY_VOID(source.blob(descriptor, [&](std::string_view chunk) -> Result<void> {
    content.append(chunk);
    return {};
  }));
  return content;
}

// An image built for another machine would only fail at exec.
Result<void> check_platform(const ImageConfig& config, const Platform& platform) {
  if (config.os.empty() && config.architecture.empty()) return {};
  Platform image{config.os, config.architecture, config.variant};
  if (image.os == platform.os && image.architecture == platform.architecture) return {};
  return fail(fmt::format("the image is for {}, not {}", to_string(image), to_string(platform)));
}

// A layer's broken-off download kept in the store, open for appending.
struct PartialDownload {
  UniqueFd fd;
  std::uint64_t held = 0;  // bytes it holds
  fs::path path;
};

Result<PartialDownload> open_partial(const fs::path& path, std::uint64_t layer_size) {
  PartialDownload partial{UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)),
                          0, path};
  if (!partial.fd) return fail_sys("open", path.string());
  struct stat st {};
  if (::fstat(partial.fd.get(), &st) != 0) return fail_sys("stat", path.string());
  partial.held = static_cast<std::uint64_t>(st.st_size);
  if (partial.held > layer_size) {  // cannot be this layer's
    if (::ftruncate(partial.fd.get(), 0) != 0) return fail_sys("truncate", path.string());
    partial.held = 0;
  }
  return partial;
}

// Feeds the first `bytes` of `fd` to `sink`.
Result<void> replay(int fd, std::uint64_t bytes, const RegistryClient::Sink& sink) {
  std::vector<char> buffer(1 << 20);
  for (std::uint64_t offset = 0; offset < bytes;) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), bytes - offset));
    ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("read", "a kept download");
    if (n == 0) return fail("a kept download is shorter than it was");
    BERTH_TRY_VOID(sink(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace

Result<std::uint64_t> Puller::unpack(ImageSource& source, const Descriptor& layer, const Digest& diff_id) {
  BERTH_TRY_VOID(layer_compression(layer.media_type));
  if (!layer.urls.empty()) {
    return fail(fmt::format("layer {} is a foreign layer served from {}; Berth does not fetch those",
                            layer.digest.str(), layer.urls.front()));
  }
  // What an earlier pull downloaded before it broke off is replayed from the
  // store, and only the rest is asked for; what arrives is kept as it comes.
  std::optional<PartialDownload> partial;
  if (source.resumable()) {
    auto opened = open_partial(store_.partial_path(layer.digest), layer.size);
    if (opened) {
      partial = std::move(*opened);
    } else {
      log::warn("Layer {}: its download is not kept: {}", layer.digest.str(), opened.error().what());
    }
  }
  const std::uint64_t resumed = partial ? partial->held : 0;
  if (resumed > 0) {
    log::info("Layer {}: resuming its download at byte {} of {}", layer.digest.str(), resumed, layer.size);
  }
  BERTH_TRY(auto ingest, store_.begin_layer());
  UniqueFd dir(::open(ingest.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return fail_sys("open", ingest.path().string());
  // The download writes into one end, the extractor reads the other: a
  // stream socket rather than a pipe, so that a writer whose reader gave up
  // gets EPIPE from send(MSG_NOSIGNAL) instead of a SIGPIPE.
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return fail_sys("socketpair");
  UniqueFd reader(ends[0]);
  UniqueFd writer(ends[1]);
  Result<void> downloaded;
  bool extractor_stopped = false;
  std::thread download([&] {
    auto send = [&](std::string_view chunk) -> Result<void> {
      while (!chunk.empty()) {
        ssize_t n = ::send(writer.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          extractor_stopped = true;
          return fail_sys("unpacking stopped reading");
        }
        chunk.remove_prefix(static_cast<std::size_t>(n));
      }
      return {};
    };
    downloaded = [&]() -> Result<void> {
      if (resumed > 0) BERTH_TRY_VOID(replay(partial->fd.get(), resumed, send));
      if (resumed == layer.size) return {};
      return source.blob_from(layer, resumed, [&](std::string_view chunk) -> Result<void> {
        if (cancelled_) return fail(Error("the pull was cancelled", ECANCELED));
        if (partial && !files::write_all(partial->fd.get(), chunk, partial->path)) {
          // A full disk, say: the download goes on without a copy.
          log::warn("Layer {}: no longer keeping its download", layer.digest.str());
          ::unlink(partial->path.c_str());
          partial.reset();
        }
        return send(chunk);
      });
    }();
    writer.reset();  // end of stream for the extractor
  });
  auto extracted = extract_layer(dir.get(), fd_source(reader.get()), options_.layer);
  reader.reset();  // a download still sending learns the extractor stopped
  download.join();
  // The download's error explains an extraction that failed for want of
  // bytes; what arrived stays kept for the next pull.
  if (!downloaded && !extractor_stopped) return fail(std::move(downloaded).error());
  auto checked = [&]() -> Result<void> {
    if (!extracted) return fail(std::move(extracted).error().context(fmt::format("layer {}", layer.digest.str())));
    if (extracted->compressed_digest != layer.digest) {
      return fail(fmt::format("layer {}: unpacked content has digest {}", layer.digest.str(),
                              extracted->compressed_digest.str()));
    }
    if (extracted->diff_id != diff_id) {
      return fail(fmt::format("layer {}: uncompressed digest {} is not the {} the image config gives",
                              layer.digest.str(), extracted->diff_id.str(), diff_id.str()));
    }
    return {};
  }();
  if (!checked) {
    // Bytes that do not check out are never resumed from.
    if (partial) ::unlink(partial->path.c_str());
    if (resumed == 0) return fail(std::move(checked).error());
    log::warn("Layer {}: the {} bytes kept from an earlier download do not check out ({}); fetching it whole",
              layer.digest.str(), resumed, checked.error().what());
    partial.reset();
    dir.reset();
    { auto discarded = std::move(ingest); }
    return unpack(source, layer, diff_id);
  }
  dir.reset();
  BERTH_TRY_VOID(store_.commit_layer(std::move(ingest), layer.digest));
  if (partial) ::unlink(partial->path.c_str());
  return resumed;
}

Result<void> Puller::fetch_layer(ImageSource& source, const Descriptor& layer, const Digest& diff_id,
                                 PullStats& stats) {
  std::promise<Result<void>> promise;
  std::shared_future<Result<void>> future;
  bool mine = false;
  {
    std::lock_guard lock(in_flight_->mutex);
    if (store_.has_layer(layer.digest)) {
      ++stats.layers_present;
      return {};
    }
    auto it = in_flight_->layers.find(layer.digest.str());
    if (it != in_flight_->layers.end()) {
      future = it->second;
    } else {
      future = promise.get_future().share();
      in_flight_->layers.emplace(layer.digest.str(), future);
      mine = true;
    }
  }
  if (!mine) {
    ++stats.layers_present;
    return future.get();
  }
  std::uint64_t resumed = 0;
  auto result = [&]() -> Result<bool> {
    if (cancelled_) return fail(Error("the pull was cancelled", ECANCELED));
    // Another process sharing the store may be fetching it: wait, then look again.
    BERTH_TRY(auto lock, store_.lock_layer(layer.digest));
    if (store_.has_layer(layer.digest)) return false;
    BERTH_TRY(resumed, unpack(source, layer, diff_id));
    return true;
  }();
  if (result && *result) {
    ++stats.layers_fetched;
    stats.bytes_fetched += layer.size - resumed;
    stats.bytes_resumed += resumed;
  } else if (result) {
    ++stats.layers_present;
  }
  {
    std::lock_guard lock(in_flight_->mutex);
    in_flight_->layers.erase(layer.digest.str());
  }
  Result<void> done = result ? Result<void>() : fail(std::move(result).error());
  promise.set_value(done);
  return done;
}

Result<void> Puller::fetch_layers(ImageSource& source, const ImageManifest& manifest, const ImageConfig& config,
                                  PullStats& stats) {
  std::mutex stats_mutex;
  std::atomic<std::size_t> next{0};
  std::vector<Result<void>> results(manifest.layers.size());
  auto worker = [&] {
    for (std::size_t i; (i = next++) < manifest.layers.size();) {
      PullStats mine;
      results[i] = fetch_layer(source, manifest.layers[i], config.diff_ids[i], mine);
      std::lock_guard lock(stats_mutex);
      stats.layers_fetched += mine.layers_fetched;
      stats.layers_present += mine.layers_present;
      stats.bytes_fetched += mine.bytes_fetched;
      stats.bytes_resumed += mine.bytes_resumed;
    }
  };
  {
    std::vector<std::jthread> workers;
    auto count = std::min<std::size_t>(std::max(options_.parallel_layers, 1), manifest.layers.size());
    for (std::size_t w = 0; w < count; ++w) workers.emplace_back(worker);
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) return fail(std::move(results[i]).error().context(fmt::format("layer {}", i)));
  }
  return {};
}

Result<PulledImage> Puller::pull_from(ImageSource& source) {
  BERTH_TRY(auto pulling, store_.share_for_pull());
  BERTH_TRY(auto fetched, source.manifest());
  if (fetched.parsed.index) {
    BERTH_TRY_VOID(keep_blob(store_.blobs(), fetched.digest, fetched.body));
    BERTH_TRY(auto entry, select_platform(*fetched.parsed.index, options_.platform));
    BERTH_TRY(fetched, source.manifest(entry.digest));
    if (!fetched.parsed.image) return fail(fmt::format("index entry {} is not an image manifest", entry.digest.str()));
  }
  const auto& manifest = *fetched.parsed.image;
  BERTH_TRY_VOID(keep_blob(store_.blobs(), fetched.digest, fetched.body));
  BERTH_TRY(auto config_text, with_context(fetch_small_blob(source, manifest.config, 8 << 20), "config"));
  BERTH_TRY(auto config, with_context(parse_image_config(config_text), "config"));
  BERTH_TRY_VOID(check_platform(config, options_.platform));
  BERTH_TRY_VOID(keep_blob(store_.blobs(), manifest.config.digest, config_text));
  if (config.diff_ids.size() != manifest.layers.size()) {
    return fail(fmt::format("the manifest lists {} layers and the config {} diff_ids", manifest.layers.size(),
                            config.diff_ids.size()));
  }
  PullStats stats;
  BERTH_TRY_VOID(fetch_layers(source, manifest, config, stats));

  PulledImage image;
  image.record.reference = source.name();
  image.record.manifest_digest = fetched.digest;
  image.record.media_type = fetched.media_type;
  image.record.config_digest = manifest.config.digest;
  for (const auto& layer : manifest.layers) {
    image.record.layers.push_back(layer.digest);
    image.record.size += layer.size;
    image.layer_dirs.push_back(store_.layer_path(layer.digest));
  }
  image.record.diff_ids = config.diff_ids;
  image.record.pulled_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  BERTH_TRY_VOID(store_.put_image(image.record));
  image.config = std::move(config);
  image.stats = stats;
  return image;
}

Result<std::optional<PulledImage>> Puller::stored(const std::string& name) {
  BERTH_TRY(auto record, store_.image(name));
  if (!record) return std::optional<PulledImage>{};
  for (const auto& layer : record->layers) {
    if (!store_.has_layer(layer)) return std::optional<PulledImage>{};
  }
  auto config_text = store_.blobs().read(record->config_digest);
  if (!config_text) return std::optional<PulledImage>{};
  BERTH_TRY(auto config, with_context(parse_image_config(*config_text), "stored config of " + name));
  PulledImage image;
  image.record = std::move(*record);
  image.config = std::move(config);
  for (const auto& layer : image.record.layers) image.layer_dirs.push_back(store_.layer_path(layer));
  image.stats.layers_present = static_cast<int>(image.layer_dirs.size());
  return std::optional(std::move(image));
}

Result<PulledImage> Puller::pull(ImageSource& source) {
  return with_context(pull_from(source), "pulling " + source.name());
}

Result<PulledImage> Puller::pull(const ImageReference& reference) {
  auto source = registry_source(client_, reference);
  return pull(*source);
}

Result<PulledImage> Puller::pull(const ImageLocation& location) {
  if (const auto* reference = std::get_if<ImageReference>(&location)) return pull(*reference);
  const auto& image = std::get<LocalImage>(location);
  auto source = open_local_source(image);
  if (!source) return fail(std::move(source).error().context("pulling " + image.str()));
  return pull(**source);
}

}  // namespace berth::fetcher
