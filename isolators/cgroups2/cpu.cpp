#include "berth/isolators/cgroups2/cpu.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "berth/isolators/cgroups2/stat_text.hpp"

namespace berth::isolators::cgroups2 {

namespace {

using stat_text::to_text;

// The kernel's bounds on cpu.max (kernel/sched/core.c): the period and the
// quota must each be at least 1 ms, the period at most 1 s.
constexpr std::uint64_t kMinQuotaUs = 1'000;
constexpr std::uint64_t kMinPeriodUs = 1'000;
constexpr std::uint64_t kMaxPeriodUs = 1'000'000;

Result<void> validate(const Limits& limits) {
  if (!std::isfinite(limits.cpus) || limits.cpus < 0) {
    return fail("cpus: " + to_text(limits.cpus) + " is not a number of CPUs (must be >= 0)");
  }
  if (limits.cpus_limit) {
    double limit = *limits.cpus_limit;
    if (std::isnan(limit) || limit <= 0) {
      return fail("cpus_limit: " + to_text(limit) + " is not a positive number of CPUs");
    }
    if (limit < limits.cpus) {
      return fail("cpus_limit: " + to_text(limit) + " is below the request cpus = " + to_text(limits.cpus));
    }
  }
  if (limits.cpu_period_us < kMinPeriodUs || limits.cpu_period_us > kMaxPeriodUs) {
    return fail("cpu_period_us: " + std::to_string(limits.cpu_period_us) + " is outside the kernel's " +
                std::to_string(kMinPeriodUs) + "-" + std::to_string(kMaxPeriodUs));
  }
  return {};
}

std::string quota_line(double cpus, std::uint64_t period_us) {
  auto quota = static_cast<std::uint64_t>(std::llround(cpus * static_cast<double>(period_us)));
  return std::to_string(std::max(quota, kMinQuotaUs)) + " " + std::to_string(period_us);
}

// cpu.max: the limit; without one, the request when CFS quotas follow
// requests (Mesos' --cgroups_enable_cfs); an infinite limit is no quota.
std::optional<std::string> cpu_max(const Limits& limits) {
  const std::string period = std::to_string(limits.cpu_period_us);
  if (limits.cpus_limit && std::isinf(*limits.cpus_limit)) return "max " + period;
  if (limits.cpus_limit) return quota_line(*limits.cpus_limit, limits.cpu_period_us);
  if (limits.cpu_quota_from_request && limits.cpus > 0) return quota_line(limits.cpus, limits.cpu_period_us);
  return std::nullopt;
}

Result<void> parse_cpu_stat(std::string_view text, Statistics& out) {
  out.cpu_usage_us = out.cpu_user_us = out.cpu_system_us = 0;
  out.cpu_periods.reset();
  out.cpu_throttled_periods.reset();
  out.cpu_throttled_us.reset();
  return stat_text::for_each_key(text, [&](std::string_view key, std::string_view value) -> Result<void> {
    if (key == "usage_usec") return stat_text::store(key, value, out.cpu_usage_us);
    if (key == "user_usec") return stat_text::store(key, value, out.cpu_user_us);
    if (key == "system_usec") return stat_text::store(key, value, out.cpu_system_us);
    if (key == "nr_periods") return stat_text::store(key, value, out.cpu_periods);
    if (key == "nr_throttled") return stat_text::store(key, value, out.cpu_throttled_periods);
    if (key == "throttled_usec") return stat_text::store(key, value, out.cpu_throttled_us);
    return {};
  });
}

Result<void> parse_cpu_pressure(std::string_view text, Statistics& out) {
  BERTH_TRY(out.cpu_pressure, stat_text::pressure(text));
  return {};
}

constexpr StatFile kStatFiles[] = {
    {"cpu.stat", StatScope::core, StatPresence::required, StatKind::counters, parse_cpu_stat, 512},
    {"cpu.pressure", StatScope::core, StatPresence::optional, StatKind::pressure, parse_cpu_pressure, 256},
};

}  // namespace

std::uint64_t cpu_weight(double cpus) {
  constexpr double kDefaultWeight = 100, kMinWeight = 1, kMaxWeight = 10'000;
  return static_cast<std::uint64_t>(std::clamp(std::round(cpus * kDefaultWeight), kMinWeight, kMaxWeight));
}

Result<std::vector<CgroupFileWrite>> CpuController::plan(const Limits& limits, Unset unset,
                                                         const std::filesystem::path& /*cgroup*/) const {
  BERTH_TRY_VOID(validate(limits));
  std::vector<CgroupFileWrite> writes;
  if (limits.cpus > 0) writes.push_back({"cpu.weight", std::to_string(cpu_weight(limits.cpus))});
  else if (unset == Unset::restore) writes.push_back({"cpu.weight", "100"});
  if (auto max = cpu_max(limits)) writes.push_back({"cpu.max", *max});
  else if (unset == Unset::restore) writes.push_back({"cpu.max", "max " + std::to_string(limits.cpu_period_us)});
  return writes;
}

std::span<const StatFile> CpuController::stat_files() const { return kStatFiles; }

}  // namespace berth::isolators::cgroups2
