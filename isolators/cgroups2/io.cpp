#include "berth/isolators/cgroups2/io.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups2/stat_text.hpp"

namespace berth::isolators::cgroups2 {

namespace {

namespace fs = std::filesystem;
using stat_text::limit_value;

constexpr std::uint32_t kMinWeight = 1, kMaxWeight = 10'000;

bool is_digits(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

bool is_device(std::string_view key) {
  auto colon = key.find(':');
  return colon != std::string_view::npos && is_digits(key.substr(0, colon)) && is_digits(key.substr(colon + 1));
}

Result<void> check_weight(std::string_view field, std::uint32_t weight) {
  if (weight >= kMinWeight && weight <= kMaxWeight) return {};
  return fail(std::string(field) + ": " + std::to_string(weight) + " is outside the kernel's 1-10000");
}

Result<void> validate(const Limits& limits) {
  if (limits.io_weight) BERTH_TRY_VOID(check_weight("io_weight", *limits.io_weight));
  for (const auto& [device, io] : limits.io) {
    const std::string field = "io[\"" + device + "\"]";
    if (!is_device(device)) return fail(field + ": not a block device number \"MAJ:MIN\"");
    if (io.weight) BERTH_TRY_VOID(check_weight(field + ".weight", *io.weight));
  }
  return {};
}

// One io.max line: the keys set, or under Unset::restore all four, the unset
// ones back at "max".
std::optional<std::string> max_line(const std::string& device, const DeviceIoLimits& io, Unset unset) {
  std::string line = device;
  bool any = false;
  auto key = [&](std::string_view name, const std::optional<std::uint64_t>& value) {
    if (!value && unset == Unset::keep) return;
    line += " " + std::string(name) + "=" + (value ? limit_value(*value) : "max");
    any = any || value.has_value();
  };
  key("rbps", io.read_bps);
  key("wbps", io.write_bps);
  key("riops", io.read_iops);
  key("wiops", io.write_iops);
  if (!any && unset == Unset::keep) return std::nullopt;
  return line;
}

bool file_exists(const fs::path& file) { return ::access(file.c_str(), F_OK) == 0; }

// The devices listed in an io.max or io.weight file ("default" aside). A
// missing file lists none (io.max needs CONFIG_BLK_DEV_THROTTLING, io.weight
// the iocost controller).
Result<std::set<std::string>> listed_devices(const fs::path& file) {
  auto text = cgroupfs::read_file(file);
  if (!text && text.error().code() == ENOENT) return std::set<std::string>{};
  if (!text) return fail(std::move(text).error());
  std::set<std::string> devices;
  for (std::string_view rest = *text; !rest.empty();) {
    std::string_view line = stat_text::next_line(rest);
    std::string_view device = stat_text::next_word(line);
    if (is_device(device)) devices.emplace(device);
  }
  return devices;
}

// Under Unset::restore: the devices throttled earlier and no longer, back at
// "max", and the per-device weights set earlier and no longer, back at the
// default. Only devices the files list: a per-device io.weight write fails
// (EOPNOTSUPP) on a device without iocost, even "MAJ:MIN default".
Result<void> restore_dropped(const Limits& limits, const fs::path& cgroup, std::vector<CgroupFileWrite>& writes) {
  BERTH_TRY(auto throttled, listed_devices(cgroup / "io.max"));
  for (const auto& device : throttled) {
    if (!limits.io.contains(device)) writes.push_back({"io.max", device + " rbps=max wbps=max riops=max wiops=max"});
  }
  BERTH_TRY(auto weighted, listed_devices(cgroup / "io.weight"));
  for (const auto& device : weighted) {
    auto io = limits.io.find(device);
    if (io == limits.io.end() || !io->second.weight) writes.push_back({"io.weight", device + " default"});
  }
  return {};
}

Result<void> parse_io_stat(std::string_view text, Statistics& out);

Result<void> parse_io_pressure(std::string_view text, Statistics& out) {
  BERTH_TRY(out.io_pressure, stat_text::pressure(text));
  return {};
}

constexpr StatFile kStatFiles[] = {
    {"io.stat", StatScope::controller, StatPresence::required, StatKind::counters, parse_io_stat, 1024},
    {"io.pressure", StatScope::core, StatPresence::optional, StatKind::pressure, parse_io_pressure, 256},
};

Result<void> parse_device_line(std::string_view fields, DeviceIoStat& stat) {
  stat = {};
  for (std::string_view field = stat_text::next_word(fields); !field.empty(); field = stat_text::next_word(fields)) {
    auto equals = field.find('=');
    if (equals == std::string_view::npos) return fail("malformed io.stat field \"" + std::string(field) + "\"");
    std::string_view key = field.substr(0, equals), value = field.substr(equals + 1);
    std::uint64_t* slot = key == "rbytes" ? &stat.read_bytes
                          : key == "wbytes" ? &stat.write_bytes
                          : key == "rios"   ? &stat.read_ios
                          : key == "wios"   ? &stat.write_ios
                          : key == "dbytes" ? &stat.discard_bytes
                          : key == "dios"   ? &stat.discard_ios
                                            : nullptr;
    if (slot != nullptr) BERTH_TRY_VOID(stat_text::store(key, value, *slot));
  }
  return {};
}

bool lists_device(std::string_view text, std::string_view device) {
  while (!text.empty()) {
    std::string_view line = stat_text::next_line(text);
    if (stat_text::next_word(line) == device) return true;
  }
  return false;
}

// Keeps the map's nodes from sample to sample: a device seen before is
// updated in place, so a steady sample allocates nothing.
Result<void> parse_io_stat(std::string_view text, Statistics& out) {
  std::size_t seen = 0;
  for (std::string_view rest = text; !rest.empty();) {
    std::string_view line = stat_text::next_line(rest);
    std::string_view device = stat_text::next_word(line);
    if (device.empty()) continue;
    if (!is_device(device)) return fail("malformed io.stat line \"" + std::string(device) + " ...\"");
    auto [entry, inserted] = out.io.try_emplace(std::string(device));
    BERTH_TRY_VOID(parse_device_line(line, entry->second));
    ++seen;
  }
  if (seen == out.io.size()) return {};
  // A device went away (or the map held another cgroup's): drop the stale ones.
  std::erase_if(out.io, [&](const auto& entry) { return !lists_device(text, entry.first); });
  return {};
}

}  // namespace

Result<std::vector<CgroupFileWrite>> IoController::plan(const Limits& limits, Unset unset,
                                                        const fs::path& cgroup) const {
  BERTH_TRY_VOID(validate(limits));
  std::vector<CgroupFileWrite> writes;
  if (limits.io_weight) writes.push_back({"io.weight", "default " + std::to_string(*limits.io_weight)});
  else if (unset == Unset::restore && file_exists(cgroup / "io.weight")) writes.push_back({"io.weight", "default 100"});
  for (const auto& [device, io] : limits.io) {
    if (auto line = max_line(device, io, unset)) writes.push_back({"io.max", *line});
    if (io.weight) writes.push_back({"io.weight", device + " " + std::to_string(*io.weight)});
  }
  if (unset == Unset::restore) BERTH_TRY_VOID(restore_dropped(limits, cgroup, writes));
  return writes;
}

std::span<const StatFile> IoController::stat_files() const { return kStatFiles; }

}  // namespace berth::isolators::cgroups2
