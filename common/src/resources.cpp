#include "berth/common/resources.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>

#include "berth/common/text.hpp"

namespace berth {
namespace {

namespace v1 = mesos::v1;
using Range = Resources::Range;

// 10^12 MB is an exabyte: anything larger is a typo, and the bound keeps the
// fixed-point sums far from int64 overflow.
constexpr double kMaxScalar = 1e12;

using text::trim;

// Mesos keeps three decimal digits (Value::Scalar); rounding here is what
// makes 0.1 + 0.2 == 0.3.
Result<std::int64_t> to_milli(double value, std::string_view name) {
  if (!std::isfinite(value) || value < 0) {
    return fail(fmt::format("resource '{}': scalar must be a finite, non-negative number, not {}", name, value));
  }
  if (value > kMaxScalar) return fail(fmt::format("resource '{}': scalar {} is too large", name, value));
  return static_cast<std::int64_t>(std::llround(value * 1000));
}

double from_milli(std::int64_t milli) { return static_cast<double>(milli) / 1000; }

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::numeric_limits<std::int64_t>::max();
  return sum;
}

// Sorts and merges overlapping or adjacent ranges: [1-2],[3-4] -> [1-4].
std::vector<Range> coalesce(std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<Range> out;
  for (const auto& range : ranges) {
    bool touches = !out.empty() && (out.back().second == UINT64_MAX || range.first <= out.back().second + 1);
    if (touches) {
      out.back().second = std::max(out.back().second, range.second);
    } else {
      out.push_back(range);
    }
  }
  return out;
}

// Both inputs coalesced; the result is too.
std::vector<Range> subtract(const std::vector<Range>& from, const std::vector<Range>& take) {
  std::vector<Range> out;
  for (auto [begin, end] : from) {
    bool consumed = false;
    for (const auto& [take_begin, take_end] : take) {
      if (take_end < begin || take_begin > end) continue;
      if (take_begin > begin) out.emplace_back(begin, take_begin - 1);
      if (take_end >= end) {
        consumed = true;
        break;
      }
      begin = take_end + 1;
    }
    if (!consumed) out.emplace_back(begin, end);
  }
  return out;
}

// `have` is coalesced, so a covered range lies inside a single one of its ranges.
bool covers(const std::vector<Range>& have, const Range& want) {
  return std::any_of(have.begin(), have.end(),
                     [&](const Range& r) { return r.first <= want.first && want.second <= r.second; });
}

// Splits on `separator` outside [] and {}.
std::vector<std::string_view> split_top_level(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (c == separator && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

Result<std::uint64_t> parse_bound(std::string_view text, std::string_view name) {
  text = trim(text);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return fail(fmt::format("resource '{}': '{}' is not a range bound", name, text));
  }
  return value;
}

// "cpus" or "cpus(*)"; reserved roles are not supported.
Result<std::string> parse_name(std::string_view text, std::string_view part) {
  text = trim(text);
  if (text.ends_with("(*)")) text = trim(text.substr(0, text.size() - 3));
  if (text.empty()) return fail(fmt::format("resource '{}' has an empty name", part));
  if (text.find('(') != std::string_view::npos) {
    return fail(fmt::format("resource '{}': only the default role '*' is supported", part));
  }
  if (text.find_first_of(")[]{},:; \t") != std::string_view::npos) {
    return fail(fmt::format("resource name '{}' is not valid", text));
  }
  return std::string(text);
}

Result<std::vector<Range>> parse_ranges(std::string_view name, std::string_view value) {
  if (value.back() != ']') return fail(fmt::format("resource '{}': unterminated range list '{}'", name, value));
  std::vector<Range> ranges;
  for (auto range : split_top_level(value.substr(1, value.size() - 2), ',')) {
    range = trim(range);
    if (range.empty()) continue;
    auto dash = range.find('-');
    if (dash == std::string_view::npos) return fail(fmt::format("resource '{}': range '{}' is not begin-end", name, range));
    BERTH_TRY(auto begin, parse_bound(range.substr(0, dash), name));
    BERTH_TRY(auto end, parse_bound(range.substr(dash + 1), name));
    if (begin > end) return fail(fmt::format("resource '{}': range {}-{} begins after it ends", name, begin, end));
    ranges.emplace_back(begin, end);
  }
  return coalesce(std::move(ranges));
}

// Sorted and unique, as Entry::items keeps them.
std::vector<std::string> sorted_items(std::vector<std::string> items) {
  std::ranges::sort(items);
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return items;
}

std::vector<std::string> item_union(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  out.reserve(a.size() + b.size());
  std::ranges::set_union(a, b, std::back_inserter(out));
  return out;
}

Result<std::vector<std::string>> parse_set(std::string_view name, std::string_view value) {
  if (value.back() != '}') return fail(fmt::format("resource '{}': unterminated set '{}'", name, value));
  std::vector<std::string> items;
  for (auto item : split_top_level(value.substr(1, value.size() - 2), ',')) {
    item = trim(item);
    if (item.find_first_of("[]{}") != std::string_view::npos) {
      return fail(fmt::format("resource '{}': set item '{}' is not valid", name, item));
    }
    if (!item.empty()) items.emplace_back(item);
  }
  return sorted_items(std::move(items));
}

Result<std::int64_t> parse_scalar(std::string_view name, std::string_view value) {
  double number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc{} || end != value.data() + value.size()) {
    return fail(fmt::format("resource '{}': '{}' is not a number, range list or set", name, value));
  }
  return to_milli(number, name);
}

// Mesos's Resources::validate: the value field must match the declared type.
Result<void> check_value_fields(const v1::Resource& resource) {
  auto type = resource.type();
  if (type != v1::Value::SCALAR && type != v1::Value::RANGES && type != v1::Value::SET) {
    return fail(fmt::format("resource '{}' has unsupported type {}", resource.name(), v1::Value::Type_Name(type)));
  }
  int present = resource.has_scalar() + resource.has_ranges() + resource.has_set();
  bool matches = (type == v1::Value::SCALAR && resource.has_scalar()) ||
                 (type == v1::Value::RANGES && resource.has_ranges()) || (type == v1::Value::SET && resource.has_set());
  if (present == 1 && matches) return {};
  return fail(fmt::format("resource '{}' of type {} must carry exactly one value, of that type", resource.name(),
                          v1::Value::Type_Name(type)));
}

std::string format_ranges(const std::vector<Range>& ranges) {
  std::string out = "[";
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    out += fmt::format("{}{}-{}", i ? "," : "", ranges[i].first, ranges[i].second);
  }
  return out + "]";
}

std::string format_set(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += item;
  }
  return out + "}";
}

}  // namespace

bool Resources::Entry::is_empty() const {
  switch (type) {
    case v1::Value::SCALAR: return milli == 0;
    case v1::Value::RANGES: return ranges.empty();
    default: return items.empty();
  }
}

Result<void> Resources::add(const std::string& name, Entry entry) {
  auto [it, inserted] = entries_.try_emplace(name, std::move(entry));  // moves only if inserted
  if (inserted) return {};
  auto& have = it->second;
  if (have.type != entry.type) {
    return fail(fmt::format("resource '{}' is given as both {} and {}", name, v1::Value::Type_Name(have.type),
                            v1::Value::Type_Name(entry.type)));
  }
  have.milli = saturating_add(have.milli, entry.milli);
  have.ranges.insert(have.ranges.end(), entry.ranges.begin(), entry.ranges.end());
  have.ranges = coalesce(std::move(have.ranges));
  if (!entry.items.empty()) have.items = item_union(have.items, entry.items);
  return {};
}

// Keeps equality structural: "cpus:0" and "" are the same resources.
void Resources::drop_empty() {
  entries_.erase_if([](const auto& entry) { return entry.second.is_empty(); });
}

Result<Resources> Resources::parse(std::string_view text) {
  Resources out;
  for (auto part : split_top_level(text, ';')) {
    part = trim(part);
    if (part.empty()) continue;
    auto colon = part.find(':');
    if (colon == std::string_view::npos) {
      return fail(fmt::format("resource '{}' is not of the form name:value", part));
    }
    BERTH_TRY(auto name, parse_name(part.substr(0, colon), part));
    if (out.entries_.contains(name)) return fail(fmt::format("resource '{}' is given twice", name));
    auto value = trim(part.substr(colon + 1));
    if (value.empty()) return fail(fmt::format("resource '{}' has an empty value", name));
    Entry entry;
    if (value.front() == '[') {
      entry.type = v1::Value::RANGES;
      BERTH_TRY(entry.ranges, parse_ranges(name, value));
    } else if (value.front() == '{') {
      entry.type = v1::Value::SET;
      BERTH_TRY(entry.items, parse_set(name, value));
    } else {
      BERTH_TRY(entry.milli, parse_scalar(name, value));
    }
    // Kept even when empty until the end, so "cpus:0;cpus:1" is still a duplicate.
    out.entries_.try_emplace(name, std::move(entry));
  }
  out.drop_empty();
  return out;
}

Result<Resources> Resources::parse_json(std::string_view json) {
  BERTH_TRY(auto protos, protos_from_json(json));
  return from_proto(protos);
}

Result<Resources::Protos> Resources::protos_from_json(std::string_view json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec) return fail("resources JSON: " + ec.message());
  if (!value.is_array()) return fail("resources JSON must be an array of Mesos Resource objects");
  Protos protos;
  for (const auto& element : value.as_array()) {
    auto text = boost::json::serialize(element);
    auto status = google::protobuf::util::JsonStringToMessage(text, protos.Add());
    if (!status.ok()) return fail(fmt::format("resources JSON: {} in {}", std::string(status.message()), text));
  }
  return protos;
}

Result<Resources> Resources::from_proto(const Protos& resources) {
  Resources out;
  for (const auto& resource : resources) {
    const auto& name = resource.name();
    if (name.empty()) return fail("a resource has an empty name");
    BERTH_TRY_VOID(check_value_fields(resource));
    Entry entry;
    entry.type = resource.type();
    if (entry.type == v1::Value::SCALAR) {
      BERTH_TRY(entry.milli, to_milli(resource.scalar().value(), name));
    } else if (entry.type == v1::Value::RANGES) {
      for (const auto& range : resource.ranges().range()) {
        if (range.begin() > range.end()) {
          return fail(fmt::format("resource '{}': range {}-{} begins after it ends", name, range.begin(), range.end()));
        }
        entry.ranges.emplace_back(range.begin(), range.end());
      }
      entry.ranges = coalesce(std::move(entry.ranges));
    } else {
      entry.items = sorted_items({resource.set().item().begin(), resource.set().item().end()});
    }
    BERTH_TRY_VOID(out.add(name, std::move(entry)));
  }
  out.drop_empty();
  return out;
}

Resources::Protos Resources::to_proto() const {
  Protos out;
  for (const auto& [name, entry] : entries_) {
    auto* resource = out.Add();
    resource->set_name(name);
    resource->set_type(entry.type);
    if (entry.type == v1::Value::SCALAR) {
      resource->mutable_scalar()->set_value(from_milli(entry.milli));
    } else if (entry.type == v1::Value::RANGES) {
      auto* ranges = resource->mutable_ranges();
      for (const auto& [begin, end] : entry.ranges) {
        auto* range = ranges->add_range();
        range->set_begin(begin);
        range->set_end(end);
      }
    } else {
      auto* set = resource->mutable_set();
      for (const auto& item : entry.items) set->add_item(item);
    }
  }
  return out;
}

bool Resources::contains(const Resources& other) const {
  for (const auto& [name, want] : other.entries_) {
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.type != want.type) return false;
    const auto& have = it->second;
    if (have.milli < want.milli) return false;
    for (const auto& range : want.ranges) {
      if (!covers(have.ranges, range)) return false;
    }
    if (!std::includes(have.items.begin(), have.items.end(), want.items.begin(), want.items.end())) return false;
  }
  return true;
}

Resources& Resources::operator+=(const Resources& other) {
  for (const auto& [name, entry] : other.entries_) {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      entries_.try_emplace(name, entry);
      continue;
    }
    auto& have = it->second;
    if (have.type != entry.type) continue;  // see the header: parse() and from_proto() refuse such clashes
    have.milli = saturating_add(have.milli, entry.milli);
    if (!entry.ranges.empty()) {
      have.ranges.insert(have.ranges.end(), entry.ranges.begin(), entry.ranges.end());
      have.ranges = coalesce(std::move(have.ranges));
    }
    if (!entry.items.empty()) have.items = item_union(have.items, entry.items);
  }
  return *this;
}

Resources& Resources::operator-=(const Resources& other) {
  for (const auto& [name, take] : other.entries_) {
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.type != take.type) continue;
    auto& have = it->second;
    have.milli = std::max<std::int64_t>(0, have.milli - take.milli);
    have.ranges = subtract(have.ranges, take.ranges);
    if (!take.items.empty()) {
      std::vector<std::string> left;
      std::ranges::set_difference(have.items, take.items, std::back_inserter(left));
      have.items = std::move(left);
    }
  }
  drop_empty();
  return *this;
}

Resources Resources::scalars() const {
  Resources out;
  for (const auto& [name, entry] : entries_) {
    if (entry.type == v1::Value::SCALAR) out.entries_.try_emplace(name, entry);
  }
  return out;
}

Resources& Resources::set_scalar(std::string_view name, double value) {
  auto milli = to_milli(value, name);
  if (!milli) return *this;
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second.type != v1::Value::SCALAR) return *this;
  if (*milli == 0) {
    if (it != entries_.end()) entries_.erase(it);
    return *this;
  }
  if (it == entries_.end()) it = entries_.try_emplace(name, Entry{}).first;
  it->second.milli = *milli;
  return *this;
}

std::optional<double> Resources::scalar(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.type != v1::Value::SCALAR) return std::nullopt;
  return from_milli(it->second.milli);
}

std::vector<Range> Resources::ranges(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? std::vector<Range>{} : it->second.ranges;
}

std::set<std::string> Resources::set(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return {};
  return {it->second.items.begin(), it->second.items.end()};
}

std::string Resources::to_string() const {
  std::string out;
  for (const auto& [name, entry] : entries_) {
    if (!out.empty()) out += ';';
    out += name + ':';
    if (entry.type == v1::Value::SCALAR) {
      out += fmt::format("{}", from_milli(entry.milli));  // shortest form: 0.1, 32, 1024.5
    } else if (entry.type == v1::Value::RANGES) {
      out += format_ranges(entry.ranges);
    } else {
      out += format_set(entry.items);
    }
  }
  return out;
}

}  // namespace berth
