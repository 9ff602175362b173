#include "berth/agent/container_limits.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "berth/common/resources.hpp"

namespace berth::agent {
namespace v1 = mesos::v1;
using isolators::cgroups2::DeviceIoLimits;
using isolators::cgroups2::Limits;

namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;

std::string label_field(std::string_view key) { return fmt::format("labels[\"{}\"]", key); }

const std::string* find_label(const v1::TaskInfo& task, std::string_view key) {
  for (const auto& label : task.labels().labels()) {
    if (label.key() == key) return &label.value();
  }
  return nullptr;
}

Result<std::uint64_t> parse_count(std::string_view field, std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return fail(fmt::format("{}: '{}' is not a non-negative integer", field, text));
  }
  return value;
}

// "0-3,6": what cpuset.cpus and cpuset.mems take.
Result<std::string> parse_cpu_list(std::string_view field, std::string_view text) {
  bool valid = !text.empty() && text.find_first_not_of("0123456789,-") == std::string_view::npos &&
               text.front() != ',' && text.back() != ',' && text.front() != '-' && text.back() != '-' &&
               text.find(",,") == std::string_view::npos && text.find("--") == std::string_view::npos;
  if (!valid) return fail(fmt::format("{}: '{}' is not a list like 0-3,6", field, text));
  return std::string(text);
}

// One io.max line: "MAJ:MIN key=value...", keys rbps, wbps, riops, wiops.
Result<void> parse_io_line(std::string_view field, std::string_view line, Limits& limits) {
  auto space = line.find(' ');
  auto device = line.substr(0, space);
  auto colon = device.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == device.size() ||
      device.find_first_not_of("0123456789:") != std::string_view::npos) {
    return fail(fmt::format("{}: '{}' does not start with a device MAJ:MIN", field, line));
  }
  DeviceIoLimits& io = limits.io[std::string(device)];
  auto rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  while (!rest.empty()) {
    auto next = rest.find(' ');
    auto pair = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    if (pair.empty()) continue;
    auto equals = pair.find('=');
    auto key = pair.substr(0, equals);
    if (equals == std::string_view::npos) return fail(fmt::format("{}: '{}' is not key=value", field, pair));
    BERTH_TRY(auto value, parse_count(field, pair.substr(equals + 1)));
    if (key == "rbps") io.read_bps = value;
    else if (key == "wbps") io.write_bps = value;
    else if (key == "riops") io.read_iops = value;
    else if (key == "wiops") io.write_iops = value;
    else return fail(fmt::format("{}: unknown key '{}' (rbps, wbps, riops or wiops)", field, key));
  }
  return {};
}

Result<void> apply_labels(const v1::TaskInfo& task, Limits& limits) {
  if (const auto* pids = find_label(task, "berth.pids_max")) {
    BERTH_TRY(limits.pids_max, parse_count(label_field("berth.pids_max"), *pids));
  }
  if (const auto* cpus = find_label(task, "berth.cpuset.cpus")) {
    BERTH_TRY(limits.cpuset_cpus, parse_cpu_list(label_field("berth.cpuset.cpus"), *cpus));
  }
  if (const auto* mems = find_label(task, "berth.cpuset.mems")) {
    BERTH_TRY(limits.cpuset_mems, parse_cpu_list(label_field("berth.cpuset.mems"), *mems));
  }
  if (const auto* io = find_label(task, "berth.io.max")) {
    std::string_view lines(*io);
    while (!lines.empty()) {
      auto end = lines.find(';');
      BERTH_TRY_VOID(parse_io_line(label_field("berth.io.max"), lines.substr(0, end), limits));
      lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
    }
  }
  return {};
}

// A limit must be at least its request; infinity lifts it.
Result<std::optional<double>> read_limit(const v1::TaskInfo& task, const std::string& name, double request,
                                         std::string_view unit) {
  auto it = task.limits().find(name);
  if (it == task.limits().end()) return std::nullopt;
  double limit = it->second.value();
  auto field = fmt::format("limits[\"{}\"]", name);
  if (std::isnan(limit) || limit <= 0) return fail(fmt::format("{}: {} is not a positive amount", field, limit));
  if (limit < request) return fail(fmt::format("{}: {} {} is below the {} {} requested", field, limit, unit, request, unit));
  return limit;
}

}  // namespace

Result<Limits> container_limits(const v1::TaskInfo& task, const LimitsPolicy& policy) {
  for (const auto& [name, value] : task.limits()) {
    if (name != "cpus" && name != "mem") {
      return fail(fmt::format("limits[\"{}\"]: only cpus and mem can have limits", name));
    }
  }
  BERTH_TRY(auto resources, Resources::from_proto(task.resources()));
  Limits limits;
  limits.cpus = resources.cpus();
  limits.cpu_quota_from_request = policy.cpu_quota_from_request;
  limits.cpu_period_us = policy.cpu_period_us;
  BERTH_TRY(limits.cpus_limit, read_limit(task, "cpus", limits.cpus, "cpus"));

  double mem_mb = resources.mem_mb();
  limits.mem_bytes = static_cast<std::uint64_t>(mem_mb * kBytesPerMb);
  BERTH_TRY(auto mem_limit_mb, read_limit(task, "mem", mem_mb, "MB"));
  if (mem_limit_mb) {
    limits.mem_limit = std::isinf(*mem_limit_mb) ? std::numeric_limits<std::uint64_t>::max()
                                                 : static_cast<std::uint64_t>(*mem_limit_mb * kBytesPerMb);
  }
  if (policy.no_swap) limits.swap_max_bytes = 0;
  if (policy.pids_max > 0) limits.pids_max = policy.pids_max;
  BERTH_TRY_VOID(apply_labels(task, limits));
  return limits;
}

namespace {

// A positive amount, or "infinity".
Result<double> json_amount(const boost::json::value& value, std::string_view field) {
  if (value.is_string() && value.as_string() == "infinity") return std::numeric_limits<double>::infinity();
  if (value.is_number()) {
    double amount = value.to_number<double>();
    if (amount > 0 && std::isfinite(amount)) return amount;
  }
  return fail(fmt::format("{}: expected a positive number or \"infinity\"", field));
}

std::uint64_t mb_to_bytes(double mb) {
  return std::isinf(mb) ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(mb * kBytesPerMb);
}

}  // namespace

Result<Limits> updated_limits(const Limits& current, std::string_view text) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(text, ec);
  if (ec || !parsed.is_object()) return fail("expected a JSON object of limits: " + (ec ? ec.message() : "not an object"));
  Limits limits = current;
  for (const auto& [key, value] : parsed.as_object()) {
    if (key == "cpus") {
      BERTH_TRY(limits.cpus, json_amount(value, key));
      if (std::isinf(limits.cpus)) return fail("cpus: a request cannot be infinite");
    } else if (key == "cpus_limit") {
      BERTH_TRY(limits.cpus_limit, json_amount(value, key));
    } else if (key == "mem") {
      BERTH_TRY(auto mb, json_amount(value, key));
      if (std::isinf(mb)) return fail("mem: a request cannot be infinite");
      limits.mem_bytes = mb_to_bytes(mb);
    } else if (key == "mem_limit") {
      BERTH_TRY(auto mb, json_amount(value, key));
      limits.mem_limit = mb_to_bytes(mb);
    } else if (key == "pids_max") {
      if (!value.is_int64() || value.as_int64() < 1) return fail("pids_max: expected a positive integer");
      limits.pids_max = static_cast<std::uint64_t>(value.as_int64());
    } else {
      return fail(fmt::format("{}: not a limit that can be updated (cpus, cpus_limit, mem, mem_limit, pids_max)",
                              std::string_view(key)));
    }
  }
  if (limits.cpus_limit && *limits.cpus_limit < limits.cpus) {
    return fail(fmt::format("cpus_limit: {} is below the {} cpus requested", *limits.cpus_limit, limits.cpus));
  }
  if (limits.mem_limit && *limits.mem_limit < limits.mem_bytes) {
    return fail(fmt::format("mem_limit: {} bytes is below the {} bytes requested", *limits.mem_limit, limits.mem_bytes));
  }
  return limits;
}

}  // namespace berth::agent
