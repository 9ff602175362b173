#pragma once
// mount(8)-style option lists ("nosuid", "ro", "rbind", "mode=755") turned into
// what mount(2) and mount_setattr(2) take, in the parent: the launch child
// only passes the numbers and the data string on.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::launcher {

struct MountOptions {
  unsigned long flags = 0;        // MS_*; for a bind only MS_BIND (| MS_REC for rbind)
  unsigned long propagation = 0;  // MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE (| MS_REC), 0 for none
  std::string data;               // the filesystem's own options, comma-separated ("mode=755,size=65536k")
  bool bind = false;
  bool recursive = false;         // rbind
  // A bind mount ignores every flag but MS_BIND and MS_REC; these are set on it
  // afterwards with mount_setattr(2) (recursively for rbind).
  std::uint64_t attr_set = 0;
  std::uint64_t attr_clr = 0;
};

// Options are applied left to right, so "ro,rw" is read-write. `bind_type`
// says the mount's type is "bind" (a bind even without a bind option).
// Errors name the option: "unknown mount option 'nosuidd'".
Result<MountOptions> parse_mount_options(std::span<const std::string> options, bool bind_type = false);

// "rprivate" -> MS_PRIVATE | MS_REC, "" -> nullopt like any unknown name.
std::optional<unsigned long> propagation_flags(std::string_view name);

}  // namespace berth::launcher
