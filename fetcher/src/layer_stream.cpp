#include "layer_stream.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

namespace berth::fetcher {

namespace {

// The longest magic told apart (xz's).
constexpr std::size_t kMagicLength = 6;

bool starts_with(std::string_view data, std::string_view magic) { return data.substr(0, magic.size()) == magic; }

// Formats the OCI image spec does not allow for layers but that tools
// produce, named so the error says what the layer is.
std::optional<std::string_view> unsupported_compression(std::string_view head) {
  if (starts_with(head, std::string_view("\xfd" "7zXZ\x00", 6))) return "xz";
  if (starts_with(head, "BZh")) return "bzip2";
  return std::nullopt;
}

std::string_view archive_message(archive* a) {
  const char* text = ::archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

}  // namespace

void LayerStream::ArchiveFree::operator()(archive* a) const { ::archive_read_free(a); }

LayerStream::LayerStream(LayerSource source, std::uint64_t max_tar_bytes)
    : source_(std::move(source)), max_tar_bytes_(max_tar_bytes) {}

LayerStream::~LayerStream() = default;

Result<std::unique_ptr<LayerStream>> LayerStream::open(LayerSource source, std::uint64_t max_tar_bytes) {
  std::unique_ptr<LayerStream> stream(new LayerStream(std::move(source), max_tar_bytes));
  BERTH_TRY_VOID(stream->read_head());
  BERTH_TRY_VOID(stream->detect_compression());
  if (stream->compression_ != LayerCompression::none) {
    BERTH_TRY_VOID(stream->open_decompressor());
  }
  return stream;
}

// A source that failed is not asked again: its error is the stream's from
// then on, whoever pulls next (libarchive may retry a read).
Result<std::string_view> LayerStream::pull() {
  if (source_failure_) return fail(*source_failure_);
  if (source_ended_) return std::string_view{};
  auto next = with_context(source_(), "read layer");
  if (!next) {
    source_failure_ = next.error();
    return next;
  }
  std::string_view chunk = *next;
  if (chunk.empty()) source_ended_ = true;
  compressed_hash_.update(chunk);
  return chunk;
}

Result<void> LayerStream::read_head() {
  while (head_.size() < kMagicLength && !source_ended_) {
    BERTH_TRY(std::string_view chunk, pull());
    head_ += chunk;
  }
  if (head_.empty()) return fail("layer is empty: not even a tar's end-of-archive blocks");
  return {};
}

Result<void> LayerStream::detect_compression() {
  if (starts_with(head_, "\x1f\x8b")) {
    compression_ = LayerCompression::gzip;
  } else if (starts_with(head_, "\x28\xb5\x2f\xfd")) {
    compression_ = LayerCompression::zstd;
  } else if (auto other = unsupported_compression(head_)) {
    return fail("layer is compressed with " + std::string(*other) + ", which OCI layers may not use");
  }
  return {};
}

Result<std::string_view> LayerStream::next_raw() {
  if (!head_served_) {
    head_served_ = true;
    if (!head_.empty()) return std::string_view(head_);
  }
  return pull();
}

long LayerStream::read_raw(archive* a, void* self, const void** buffer) {
  auto* stream = static_cast<LayerStream*>(self);
  auto chunk = stream->next_raw();
  if (!chunk) {
    ::archive_set_error(a, EIO, "layer source failed");
    return -1;
  }
  *buffer = chunk->data();
  return static_cast<long>(chunk->size());
}

// A failure of the source comes back through libarchive as a bare -1; it is
// reported as the source's own error, not as a decompression problem.
Error LayerStream::decompressor_error() {
  if (source_failure_) return *source_failure_;
  return Error(std::string(archive_message(decompressor_.get())))
      .context("decompress " + std::string(to_string(compression_)) + " layer");
}

// libarchive's raw format hands out the decompressed bytes as they are,
// with no container format to parse: one decompressor for each filter.
// Only the filter the magic named is enabled, and a libarchive built without
// it in-process (ARCHIVE_WARN: it would run an external program) is refused.
Result<void> LayerStream::open_decompressor() {
  decompressor_.reset(::archive_read_new());
  if (!decompressor_) return fail("archive_read_new: out of memory");
  archive* a = decompressor_.get();
  int filter = compression_ == LayerCompression::gzip ? ::archive_read_support_filter_gzip(a)
                                                      : ::archive_read_support_filter_zstd(a);
  if (filter != ARCHIVE_OK) {
    return fail("libarchive cannot decompress " + std::string(to_string(compression_)) + " in-process");
  }
  if (::archive_read_support_format_raw(a) != ARCHIVE_OK) return fail(decompressor_error());
  if (::archive_read_open(a, this, nullptr, &LayerStream::read_raw, nullptr) != ARCHIVE_OK) {
    return fail(decompressor_error());
  }
  archive_entry* entry = nullptr;
  if (::archive_read_next_header(a, &entry) != ARCHIVE_OK) return fail(decompressor_error());
  return {};
}

Result<std::string_view> LayerStream::next_decompressed() {
  for (;;) {
    const void* buffer = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    int status = ::archive_read_data_block(decompressor_.get(), &buffer, &size, &offset);
    if (status == ARCHIVE_EOF) return std::string_view{};
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) return fail(decompressor_error());
    if (size > 0) return std::string_view(static_cast<const char*>(buffer), size);
  }
}

Result<std::string_view> LayerStream::next() {
  if (tar_ended_) return std::string_view{};
  BERTH_TRY(std::string_view chunk, compression_ == LayerCompression::none ? next_raw() : next_decompressed());
  if (chunk.empty()) {
    tar_ended_ = true;
    return chunk;
  }
  if (chunk.size() > max_tar_bytes_ - tar_bytes_) {
    return fail("uncompressed layer is larger than the limit of " + std::to_string(max_tar_bytes_) +
                " bytes (max_tar_bytes)");
  }
  tar_bytes_ += chunk.size();
  tar_hash_.update(chunk);
  return chunk;
}

Result<void> LayerStream::drain() {
  for (;;) {
    BERTH_TRY(std::string_view chunk, next());
    if (chunk.empty()) break;
  }
  // A compressed stream may carry bytes after its end (padding some tools
  // add); they are part of the blob, and so of its digest.
  while (!source_ended_) BERTH_TRY_VOID(pull());
  return {};
}

}  // namespace berth::fetcher
