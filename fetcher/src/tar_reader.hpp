#pragma once
// The entries of a layer's tar (ustar, pax and GNU), parsed by libarchive
// from a LayerStream. No other archive format is accepted, whatever
// libarchive could read.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "berth/common/error.hpp"
#include "layer_entry.hpp"
#include "layer_stream.hpp"

struct archive;

namespace berth::fetcher {

class TarReader {
 public:
  // `stream` must outlive the reader. Held by pointer: libarchive keeps
  // the reader's address for its read callback.
  static Result<std::unique_ptr<TarReader>> open(LayerStream& stream);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry's header, or nullopt after the last one. Content the
  // caller did not read is skipped.
  Result<std::optional<LayerEntry>> next();

  // The current entry's content; 0 at its end.
  Result<std::size_t> read(std::span<char> buffer);

 private:
  struct ArchiveFree {
    void operator()(archive* a) const;
  };

  explicit TarReader(LayerStream& stream);
  Error archive_failure(std::string_view what);
  static long read_stream(archive* a, void* self, const void** buffer);

  LayerStream& stream_;
  std::unique_ptr<archive, ArchiveFree> archive_;
  std::optional<Error> stream_error_;
};

}  // namespace berth::fetcher
