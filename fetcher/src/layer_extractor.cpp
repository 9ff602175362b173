#include "berth/fetcher/layer_extractor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "layer_path.hpp"
#include "layer_stream.hpp"
#include "layer_writer.hpp"
#include "tar_reader.hpp"

namespace berth::fetcher {

namespace {

Result<void> check_names(const LayerEntry& entry, const LayerLimits& limits) {
  std::size_t longest = std::max(entry.name.size(), entry.link_target.size());
  if (longest > limits.max_path_length) {
    return fail("name of " + std::to_string(longest) + " bytes exceeds the limit of " +
                std::to_string(limits.max_path_length) + " (max_path_length)");
  }
  return {};
}

Error printable(const Error& error) {
  return Error(escape_control_characters(error.message()), error.code(), escape_control_characters(error.path()));
}

Result<void> extract_entries(TarReader& tar, LayerWriter& writer, const LayerLimits& limits, LayerStats& stats) {
  EntryContent content = [&tar](std::span<char> buffer) { return tar.read(buffer); };
  for (;;) {
    BERTH_TRY(std::optional<LayerEntry> entry, tar.next());
    if (!entry) return {};
    auto applied = [&]() -> Result<void> {
      if (++stats.entries > limits.max_entries) {
        return fail("more than " + std::to_string(limits.max_entries) + " entries (max_entries)");
      }
      BERTH_TRY_VOID(check_names(*entry, limits));
      return writer.apply(*entry, content);
    }();
    if (!applied) return fail(printable(applied.error()).context(entry_context(entry->name)));
  }
}

}  // namespace

std::string_view to_string(LayerCompression compression) {
  switch (compression) {
    case LayerCompression::none:
      return "uncompressed";
    case LayerCompression::gzip:
      return "gzip";
    case LayerCompression::zstd:
      return "zstd";
  }
  return "unknown";
}

LayerSource fd_source(int fd, std::size_t chunk_size) {
  auto buffer = std::make_unique<std::vector<char>>(chunk_size);
  return [fd, buffer = std::move(buffer)]() -> Result<std::string_view> {
    for (;;) {
      ssize_t n = ::read(fd, buffer->data(), buffer->size());
      if (n >= 0) return std::string_view(buffer->data(), static_cast<std::size_t>(n));
      if (errno != EINTR) return fail_sys("read layer fd " + std::to_string(fd));
    }
  };
}

Result<LayerStats> extract_layer(int root_fd, LayerSource source, const LayerOptions& options) {
  LayerStats stats;
  BERTH_TRY(auto stream, LayerStream::open(std::move(source), options.limits.max_tar_bytes));
  stats.compression = stream->compression();
  BERTH_TRY(auto tar, TarReader::open(*stream));
  LayerWriter writer(root_fd, options, stats);
  BERTH_TRY_VOID(extract_entries(*tar, writer, options.limits, stats));
  BERTH_TRY_VOID(writer.finish());
  BERTH_TRY_VOID(stream->drain());
  stats.compressed_digest = stream->compressed_digest();
  stats.diff_id = stream->diff_id();
  return stats;
}

}  // namespace berth::fetcher
