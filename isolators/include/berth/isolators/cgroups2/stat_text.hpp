#pragma once
// Parsing and printing of cgroupfs values, without allocating on success:
// the stats sampler parses thousands of files per sample.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/isolators/cgroups2/statistics.hpp"

namespace berth::isolators::cgroups2::stat_text {

// A decimal number, or "max" (UINT64_MAX), as cgroupfs prints limits.
std::optional<std::uint64_t> to_u64(std::string_view text);
// How a limit is written: the number, or "max" for UINT64_MAX.
std::string limit_value(std::uint64_t value);
// The shortest text that reads back as `value` ("0.5", "2"), for messages.
std::string to_text(double value);

// The next line of `text` (without its '\n'), removed from `text`.
std::string_view next_line(std::string_view& text);
// The next space-separated word of `text`, removed from `text`.
std::string_view next_word(std::string_view& text);

// A file holding one number or "max" (memory.current, pids.max).
Result<std::uint64_t> single_value(std::string_view text);

// Calls visit(key, value) for each "key value" line of a flat-keyed file
// (cpu.stat, memory.stat, memory.events, pids.events); the value is left as
// text, for the visitor to parse what it wants.
template <typename Visit>
Result<void> for_each_key(std::string_view text, Visit&& visit) {
  while (!text.empty()) {
    std::string_view line = next_line(text);
    if (line.empty()) continue;
    std::string_view key = next_word(line);
    std::string_view value = next_word(line);
    if (value.empty()) return fail("malformed line \"" + std::string(key) + "\": no value");
    BERTH_TRY_VOID(visit(key, value));
  }
  return {};
}

// The number `value` of `key`, into `out`; an error naming the key otherwise.
Result<void> store(std::string_view key, std::string_view value, std::uint64_t& out);
Result<void> store(std::string_view key, std::string_view value, std::optional<std::uint64_t>& out);

// A *.pressure file: "some avg10=.. avg60=.. avg300=.. total=.." and, since
// 5.13 for cpu.pressure (always for memory and io), a "full" line.
Result<PressureStall> pressure(std::string_view text);

}  // namespace berth::isolators::cgroups2::stat_text
