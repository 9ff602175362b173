#pragma once
// devices: cgroup v2 has no devices interface file; access to device nodes is
// decided by an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the
// container's cgroup: the standard container devices, then Limits::devices,
// anything else denied (device_filter.hpp).

#include <vector>

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class DevicesController final : public Controller {
 public:
  std::string_view name() const override { return "devices"; }
  // Compiles, loads and attaches the filter to `cgroup`.
  Result<void> apply(const Limits& limits, const std::filesystem::path& cgroup) const override;
  // Attaches a filter for the new rules in place of the old one.
  Result<void> update(const Limits& limits, const std::filesystem::path& cgroup) const override;
};

// limits.devices, then default_device_rules(): what the filter allows (first
// match wins, so a container's rule may also deny a standard device).
std::vector<DeviceRule> device_rules(const Limits& limits);

// Whether this kernel lets this process load a device filter; probed once
// (loading the default filter). The error says why not.
const Result<void>& device_filter_support();

}  // namespace berth::isolators::cgroups2
