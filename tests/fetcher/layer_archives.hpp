#pragma once
// Image layers built in memory with libarchive's writer, for the layer
// extractor's tests: plain tar, tar+gzip and tar+zstd, in pax, GNU or ustar
// form, with any entry a hostile layer could hold.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "berth/fetcher/layer_extractor.hpp"

namespace berth::testing {

struct TarItem {
  enum class Kind { file, dir, symlink, hardlink, char_device, block_device, fifo };
  Kind kind = Kind::file;
  std::string path{};
  std::string data{};  // a file's content
  std::string link{};  // a symlink's or hardlink's target
  mode_t mode = 0644;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::time_t mtime = 1'600'000'000;
  long mtime_nsec = 0;
  unsigned dev_major = 0;
  unsigned dev_minor = 0;
  // Appended to `data` as zeros while writing, so a bomb need not sit in
  // memory uncompressed.
  std::uint64_t zero_bytes = 0;
};

inline TarItem file(std::string path, std::string data, mode_t mode = 0644) {
  return {.kind = TarItem::Kind::file, .path = std::move(path), .data = std::move(data), .mode = mode};
}
inline TarItem dir(std::string path, mode_t mode = 0755) {
  return {.kind = TarItem::Kind::dir, .path = std::move(path), .mode = mode};
}
inline TarItem symlink(std::string path, std::string target) {
  return {.kind = TarItem::Kind::symlink, .path = std::move(path), .link = std::move(target), .mode = 0777};
}
inline TarItem hardlink(std::string path, std::string target) {
  return {.kind = TarItem::Kind::hardlink, .path = std::move(path), .link = std::move(target)};
}
inline TarItem device(TarItem::Kind kind, std::string path, unsigned major, unsigned minor) {
  return {.kind = kind, .path = std::move(path), .mode = 0600, .dev_major = major, .dev_minor = minor};
}
inline TarItem zeros(std::string path, std::uint64_t size) {
  return {.kind = TarItem::Kind::file, .path = std::move(path), .zero_bytes = size};
}

enum class TarFormat { pax, gnu, ustar };

namespace layer_archives_detail {

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

inline void check(archive* a, int status, const char* what) {
  if (status < ARCHIVE_WARN) {
    const char* text = archive_error_string(a);
    throw std::runtime_error(std::string(what) + ": " + (text ? text : "libarchive error"));
  }
}

inline la_ssize_t append(archive*, void* out, const void* buffer, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), size);
  return static_cast<la_ssize_t>(size);
}

inline mode_t type_bits(TarItem::Kind kind) {
  switch (kind) {
    case TarItem::Kind::dir:
      return AE_IFDIR;
    case TarItem::Kind::symlink:
      return AE_IFLNK;
    case TarItem::Kind::char_device:
      return AE_IFCHR;
    case TarItem::Kind::block_device:
      return AE_IFBLK;
    case TarItem::Kind::fifo:
      return AE_IFIFO;
    case TarItem::Kind::file:
    case TarItem::Kind::hardlink:
      return AE_IFREG;
  }
  return AE_IFREG;
}

inline void write_zeros(archive* a, std::uint64_t count) {
  const std::string chunk(std::size_t{1} << 20, '\0');
  while (count > 0) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(count, chunk.size()));
    if (archive_write_data(a, chunk.data(), n) != static_cast<la_ssize_t>(n)) check(a, ARCHIVE_FATAL, "write zeros");
    count -= n;
  }
}

inline void write_item(archive* a, const TarItem& item) {
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), item.path.c_str());
  archive_entry_set_mode(entry.get(), type_bits(item.kind) | (item.mode & 07777));
  archive_entry_set_uid(entry.get(), item.uid);
  archive_entry_set_gid(entry.get(), item.gid);
  archive_entry_set_mtime(entry.get(), item.mtime, item.mtime_nsec);
  bool has_content = item.kind == TarItem::Kind::file;
  if (has_content) archive_entry_set_size(entry.get(), static_cast<la_int64_t>(item.data.size() + item.zero_bytes));
  if (item.kind == TarItem::Kind::symlink) archive_entry_set_symlink(entry.get(), item.link.c_str());
  if (item.kind == TarItem::Kind::hardlink) archive_entry_set_hardlink(entry.get(), item.link.c_str());
  if (item.kind == TarItem::Kind::char_device || item.kind == TarItem::Kind::block_device) {
    archive_entry_set_rdev(entry.get(), makedev(item.dev_major, item.dev_minor));
  }
  check(a, archive_write_header(a, entry.get()), "write header");
  if (!has_content) return;
  if (!item.data.empty() &&
      archive_write_data(a, item.data.data(), item.data.size()) != static_cast<la_ssize_t>(item.data.size())) {
    check(a, ARCHIVE_FATAL, "write data");
  }
  write_zeros(a, item.zero_bytes);
}

}  // namespace layer_archives_detail

// The layer's bytes as a registry would serve them.
inline std::string make_layer(const std::vector<TarItem>& items,
                              fetcher::LayerCompression compression = fetcher::LayerCompression::none,
                              TarFormat format = TarFormat::pax) {
  namespace d = layer_archives_detail;
  std::unique_ptr<archive, d::ArchiveFree> owner(archive_write_new());
  archive* a = owner.get();
  switch (format) {
    case TarFormat::pax:
      d::check(a, archive_write_set_format_pax(a), "set format pax");
      break;
    case TarFormat::gnu:
      d::check(a, archive_write_set_format_gnutar(a), "set format gnutar");
      break;
    case TarFormat::ustar:
      d::check(a, archive_write_set_format_ustar(a), "set format ustar");
      break;
  }
  switch (compression) {
    case fetcher::LayerCompression::none:
      d::check(a, archive_write_add_filter_none(a), "add filter none");
      break;
    case fetcher::LayerCompression::gzip:
      d::check(a, archive_write_add_filter_gzip(a), "add filter gzip");
      break;
    case fetcher::LayerCompression::zstd:
      d::check(a, archive_write_add_filter_zstd(a), "add filter zstd");
      break;
  }
  // A compressed layer ends where its compressed stream does; libarchive
  // would otherwise pad it with zeros to a whole 10 KiB block.
  if (compression != fetcher::LayerCompression::none) {
    d::check(a, archive_write_set_bytes_in_last_block(a, 1), "set bytes in last block");
  }
  std::string out;
  d::check(a, archive_write_open2(a, &out, nullptr, &d::append, nullptr, nullptr), "open");
  for (const auto& item : items) d::write_item(a, item);
  d::check(a, archive_write_close(a), "close");
  return out;
}

// The uncompressed tar inside a layer, decompressed by libarchive on its
// own, for the diff_id a layer should have.
inline std::string decompress(const std::string& layer) {
  std::unique_ptr<archive, int (*)(archive*)> owner(archive_read_new(), archive_read_free);
  archive* a = owner.get();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  archive_entry* entry = nullptr;
  if (archive_read_open_memory(a, layer.data(), layer.size()) != ARCHIVE_OK ||
      archive_read_next_header(a, &entry) != ARCHIVE_OK) {
    throw std::runtime_error(std::string("decompress: ") + archive_error_string(a));
  }
  std::string out;
  char buffer[65536];
  la_ssize_t n = 0;
  while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  if (n < 0) throw std::runtime_error(std::string("decompress: ") + archive_error_string(a));
  return out;
}

// Hands out `data` in chunks of `chunk` bytes, counting what was taken.
inline fetcher::LayerSource chunked_source(std::string data, std::size_t chunk, std::size_t* taken = nullptr) {
  auto held = std::make_shared<std::string>(std::move(data));
  return [held, chunk, taken, offset = std::size_t{0}]() mutable -> Result<std::string_view> {
    std::string_view next = std::string_view(*held).substr(offset, chunk);
    offset += next.size();
    if (taken != nullptr) *taken = offset;
    return next;
  };
}

inline fetcher::LayerSource memory_source(std::string data) { return chunked_source(std::move(data), 64 * 1024); }

}  // namespace berth::testing
