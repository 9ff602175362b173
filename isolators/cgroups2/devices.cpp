#include "berth/isolators/cgroups2/devices.hpp"

#include <fcntl.h>

#include "berth/common/fd.hpp"
#include "berth/isolators/cgroups2/device_filter.hpp"

namespace berth::isolators::cgroups2 {

namespace {

namespace fs = std::filesystem;

Result<void> attach_filter(const Limits& limits, const fs::path& cgroup) {
  const auto rules = device_rules(limits);
  BERTH_TRY(auto program, compile_device_filter(rules));
  BERTH_TRY(auto filter, DeviceFilter::load(program));
  UniqueFd dir(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return fail_sys("open cgroup", cgroup);
  // The attachment holds its own reference to the program: closing ours
  // when `filter` goes out of scope leaves it in force.
  return filter.attach(dir.get());
}

}  // namespace

std::vector<DeviceRule> device_rules(const Limits& limits) {
  // First match wins: the container's own rules go first, so that one of
  // them can also deny a device the defaults allow.
  auto rules = limits.devices;
  auto defaults = default_device_rules();
  rules.insert(rules.end(), defaults.begin(), defaults.end());
  return rules;
}

Result<void> DevicesController::apply(const Limits& limits, const fs::path& cgroup) const {
  return with_context(attach_filter(limits, cgroup), "device filter");
}

Result<void> DevicesController::update(const Limits& limits, const fs::path& cgroup) const {
  return with_context(attach_filter(limits, cgroup), "device filter");
}

const Result<void>& device_filter_support() {
  static const Result<void> support = []() -> Result<void> {
    BERTH_TRY(auto program, compile_device_filter(default_device_rules()));
    BERTH_TRY_VOID(DeviceFilter::load(program));
    return {};
  }();
  return support;
}

}  // namespace berth::isolators::cgroups2
