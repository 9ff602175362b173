#include "berth/launcher/mount_options.hpp"

#include <sys/mount.h>

#include <algorithm>
#include <array>

namespace berth::launcher {

namespace {

struct FlagOption {
  std::string_view name;
  unsigned long set;
  unsigned long clear;
};

constexpr unsigned long kAtimeFlags = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;

constexpr std::array<FlagOption, 24> kFlagOptions{{
    {"defaults", 0, 0},
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"noatime", MS_NOATIME, kAtimeFlags},
    {"atime", 0, MS_NOATIME},
    {"relatime", MS_RELATIME, kAtimeFlags},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, kAtimeFlags},
    {"nostrictatime", 0, MS_STRICTATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"lazytime", MS_LAZYTIME, 0},
    {"nolazytime", 0, MS_LAZYTIME},
    {"mand", MS_MANDLOCK, 0},
    {"nomand", 0, MS_MANDLOCK},
}};

struct PropagationOption {
  std::string_view name;
  unsigned long flags;
};

constexpr std::array<PropagationOption, 8> kPropagations{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

// Filesystem options without a value. Anything "key=value" goes to the
// filesystem as is (it knows its own keys and says EINVAL otherwise); a bare
// word must be known, so that a misspelt flag ("nosuidd") is not silently
// handed to the filesystem, or ignored by one that takes no data.
constexpr std::array<std::string_view, 5> kDataWords{"newinstance", "noswap", "userxattr", "volatile", "nouser_xattr"};

void append_data(std::string& data, std::string_view option) {
  if (!data.empty()) data += ',';
  data += option;
}

// What mount_setattr(2) must change on a bind mount for its flags.
void bind_attributes(MountOptions& options) {
  constexpr std::array<std::pair<unsigned long, std::uint64_t>, 4> kAttrs{{
      {MS_RDONLY, MOUNT_ATTR_RDONLY},
      {MS_NOSUID, MOUNT_ATTR_NOSUID},
      {MS_NODEV, MOUNT_ATTR_NODEV},
      {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
  }};
  for (auto [flag, attr] : kAttrs) {
    if (options.flags & flag) options.attr_set |= attr;
  }
  if (options.flags & MS_NODIRATIME) options.attr_set |= MOUNT_ATTR_NODIRATIME;
  // The atime mode is one field: changing it means clearing the whole field.
  if (options.flags & kAtimeFlags) {
    options.attr_clr |= MOUNT_ATTR__ATIME;
    if (options.flags & MS_NOATIME) options.attr_set |= MOUNT_ATTR_NOATIME;
    if (options.flags & MS_STRICTATIME) options.attr_set |= MOUNT_ATTR_STRICTATIME;
  }
  options.flags = MS_BIND | (options.recursive ? MS_REC : 0);
}

}  // namespace

std::optional<unsigned long> propagation_flags(std::string_view name) {
  auto it = std::ranges::find(kPropagations, name, &PropagationOption::name);
  if (it == kPropagations.end()) return std::nullopt;
  return it->flags;
}

Result<MountOptions> parse_mount_options(std::span<const std::string> options, bool bind_type) {
  MountOptions parsed;
  parsed.bind = bind_type;
  for (const auto& option : options) {
    if (auto flag = std::ranges::find(kFlagOptions, option, &FlagOption::name); flag != kFlagOptions.end()) {
      parsed.flags = (parsed.flags & ~flag->clear) | flag->set;
    } else if (option == "bind" || option == "rbind") {
      parsed.bind = true;
      parsed.recursive = parsed.recursive || option == "rbind";
    } else if (auto propagation = propagation_flags(option)) {
      parsed.propagation = *propagation;
    } else if (option.find('=') != std::string::npos || std::ranges::find(kDataWords, option) != kDataWords.end()) {
      if (option.find('\0') != std::string::npos) return fail("mount option contains a NUL byte");
      append_data(parsed.data, option);
    } else {
      return fail("unknown mount option '" + option + "'");
    }
  }
  if (parsed.bind) bind_attributes(parsed);
  return parsed;
}

}  // namespace berth::launcher
