#include "berth/isolators/cgroups2/stat_text.hpp"

#include <charconv>
#include <limits>

namespace berth::isolators::cgroups2::stat_text {

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

struct PressureLine {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  std::uint64_t total = 0;
};

// The fields of one "some ..." or "full ..." line.
Result<PressureLine> pressure_line(std::string_view fields) {
  PressureLine line;
  for (std::string_view field = next_word(fields); !field.empty(); field = next_word(fields)) {
    auto equals = field.find('=');
    std::string_view name = field.substr(0, equals);
    std::string_view value = equals == std::string_view::npos ? std::string_view() : field.substr(equals + 1);
    bool ok = false;
    if (name == "total") {
      auto total = parse_number<std::uint64_t>(value);
      ok = total.has_value();
      line.total = total.value_or(0);
    } else {
      auto average = parse_number<double>(value);
      ok = average.has_value();
      double* slot = name == "avg10"    ? &line.avg10
                     : name == "avg60"  ? &line.avg60
                     : name == "avg300" ? &line.avg300
                                        : nullptr;
      if (slot != nullptr && average) *slot = *average;
    }
    if (!ok) return fail("malformed pressure field \"" + std::string(field) + "\"");
  }
  return line;
}

}  // namespace

std::optional<std::uint64_t> to_u64(std::string_view text) {
  if (text == "max") return kMax;
  return parse_number<std::uint64_t>(text);
}

std::string limit_value(std::uint64_t value) { return value == kMax ? "max" : std::to_string(value); }

std::string to_text(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("?");
}

std::string_view next_line(std::string_view& text) {
  auto end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

std::string_view next_word(std::string_view& text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  auto end = text.find(' ');
  std::string_view word = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  return word;
}

Result<std::uint64_t> single_value(std::string_view text) {
  auto value = to_u64(trim(text));
  if (!value) return fail("not a number: \"" + std::string(trim(text)) + "\"");
  return *value;
}

Result<void> store(std::string_view key, std::string_view value, std::uint64_t& out) {
  auto number = parse_number<std::uint64_t>(value);
  if (!number) return fail("malformed value of \"" + std::string(key) + "\": \"" + std::string(value) + "\"");
  out = *number;
  return {};
}

Result<void> store(std::string_view key, std::string_view value, std::optional<std::uint64_t>& out) {
  std::uint64_t number = 0;
  BERTH_TRY_VOID(store(key, value, number));
  out = number;
  return {};
}

Result<PressureStall> pressure(std::string_view text) {
  PressureStall stall;
  bool some = false;
  while (!text.empty()) {
    std::string_view line = next_line(text);
    std::string_view which = next_word(line);
    if (which == "some") {
      BERTH_TRY(auto fields, pressure_line(line));
      stall.some_avg10 = fields.avg10, stall.some_avg60 = fields.avg60, stall.some_avg300 = fields.avg300;
      stall.some_total_us = fields.total;
      some = true;
    } else if (which == "full") {
      BERTH_TRY(auto fields, pressure_line(line));
      stall.full_avg10 = fields.avg10, stall.full_avg60 = fields.avg60, stall.full_avg300 = fields.avg300;
      stall.full_total_us = fields.total;
    } else if (!which.empty()) {
      return fail("malformed pressure line \"" + std::string(which) + " ...\"");
    }
  }
  if (!some) return fail("no \"some\" line");
  return stall;
}

}  // namespace berth::isolators::cgroups2::stat_text
