#pragma once
// One entry of a layer's tar as the extractor needs it, independent of the
// library that parsed it.

#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "berth/common/error.hpp"

namespace berth::fetcher {

enum class EntryType { regular, directory, symlink, hardlink, char_device, block_device, fifo };

struct LayerEntry {
  std::string name;  // exactly as the archive spells it
  EntryType type = EntryType::regular;
  // A symlink's target, verbatim; a hardlink's target, a name in the layer.
  std::string link_target;
  mode_t permissions = 0;  // the 07777 bits
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::uint64_t size = 0;  // of a regular file's content
  dev_t device = 0;        // of a character or block device
  std::optional<timespec> mtime;
  std::optional<timespec> atime;
};

// Reads the current entry's content into `buffer`; 0 at its end.
using EntryContent = std::function<Result<std::size_t>(std::span<char> buffer)>;

}  // namespace berth::fetcher
