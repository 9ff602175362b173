#include "tar_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "layer_path.hpp"

namespace berth::fetcher {

namespace {

Result<EntryType> entry_type(archive_entry* entry) {
  // A hardlink entry may carry any file type (pax even allows content);
  // what matters is that it names another entry.
  if (::archive_entry_hardlink(entry) != nullptr) return EntryType::hardlink;
  switch (::archive_entry_filetype(entry)) {
    case AE_IFREG:
      return EntryType::regular;
    case AE_IFDIR:
      return EntryType::directory;
    case AE_IFLNK:
      return EntryType::symlink;
    case AE_IFCHR:
      return EntryType::char_device;
    case AE_IFBLK:
      return EntryType::block_device;
    case AE_IFIFO:
      return EntryType::fifo;
    default:
      return fail("unsupported entry type (mode " + std::to_string(::archive_entry_mode(entry)) + ")");
  }
}

std::optional<timespec> entry_time(bool is_set, time_t seconds, long nanoseconds) {
  if (!is_set) return std::nullopt;
  return timespec{seconds, nanoseconds};
}

Result<LayerEntry> translate(archive_entry* entry) {
  const char* name = ::archive_entry_pathname(entry);
  if (name == nullptr) return fail("tar entry has no name");
  LayerEntry out;
  out.name = name;
  BERTH_TRY(out.type, with_context(entry_type(entry), entry_context(out.name)));
  if (out.type == EntryType::hardlink) out.link_target = ::archive_entry_hardlink(entry);
  if (out.type == EntryType::symlink) {
    const char* target = ::archive_entry_symlink(entry);
    if (target == nullptr) return fail(Error("symlink without a target").context(entry_context(out.name)));
    out.link_target = target;
  }
  out.permissions = ::archive_entry_perm(entry) & 07777;
  out.uid = ::archive_entry_uid(entry);
  out.gid = ::archive_entry_gid(entry);
  la_int64_t size = ::archive_entry_size_is_set(entry) ? ::archive_entry_size(entry) : 0;
  if (size < 0) return fail(Error("negative size").context(entry_context(out.name)));
  out.size = static_cast<std::uint64_t>(size);
  out.device = ::archive_entry_rdev(entry);
  out.mtime = entry_time(::archive_entry_mtime_is_set(entry), ::archive_entry_mtime(entry),
                         ::archive_entry_mtime_nsec(entry));
  out.atime = entry_time(::archive_entry_atime_is_set(entry), ::archive_entry_atime(entry),
                         ::archive_entry_atime_nsec(entry));
  return out;
}

}  // namespace

void TarReader::ArchiveFree::operator()(archive* a) const { ::archive_read_free(a); }

TarReader::TarReader(LayerStream& stream) : stream_(stream) {}

TarReader::~TarReader() = default;

long TarReader::read_stream(archive* a, void* self, const void** buffer) {
  auto* reader = static_cast<TarReader*>(self);
  auto chunk = reader->stream_.next();
  if (!chunk) {
    reader->stream_error_ = std::move(chunk).error();
    ::archive_set_error(a, EIO, "layer stream failed");
    return -1;
  }
  *buffer = chunk->data();
  return static_cast<long>(chunk->size());
}

// The stream's own error (the source failed, a limit was hit, the
// decompressor choked) reaches libarchive only as -1; it is what the caller
// needs to see, not libarchive's retelling.
Error TarReader::archive_failure(std::string_view what) {
  if (stream_error_) return *std::exchange(stream_error_, std::nullopt);
  const char* text = ::archive_error_string(archive_.get());
  return Error(text != nullptr ? text : "unknown libarchive error").context(what);
}

Result<std::unique_ptr<TarReader>> TarReader::open(LayerStream& stream) {
  std::unique_ptr<TarReader> reader(new TarReader(stream));
  reader->archive_.reset(::archive_read_new());
  if (!reader->archive_) return fail("archive_read_new: out of memory");
  archive* a = reader->archive_.get();
  // The stream is decompressed already; libarchive's "none" filter is
  // always there and no other is enabled.
  if (::archive_read_support_format_tar(a) != ARCHIVE_OK) return fail(reader->archive_failure("read layer tar"));
  if (::archive_read_open(a, reader.get(), nullptr, &TarReader::read_stream, nullptr) != ARCHIVE_OK) {
    return fail(reader->archive_failure("layer is not a tar archive"));
  }
  return reader;
}

Result<std::optional<LayerEntry>> TarReader::next() {
  archive_entry* entry = nullptr;
  int status = ::archive_read_next_header(archive_.get(), &entry);
  if (status == ARCHIVE_EOF) return std::nullopt;
  // ARCHIVE_WARN is for what libarchive could read but had a remark about
  // (an unknown pax keyword, say); the entry itself is sound. ARCHIVE_RETRY
  // is a damaged header that libarchive would skip to resynchronize: a
  // layer is not something to guess at, so that fails too.
  if (status != ARCHIVE_OK && status != ARCHIVE_WARN) return fail(archive_failure("read layer tar"));
  BERTH_TRY(LayerEntry translated, translate(entry));
  return translated;
}

Result<std::size_t> TarReader::read(std::span<char> buffer) {
  la_ssize_t n = ::archive_read_data(archive_.get(), buffer.data(), buffer.size());
  if (n < 0) return fail(archive_failure("read layer tar"));
  return static_cast<std::size_t>(n);
}

}  // namespace berth::fetcher

