#pragma once
// cpu: cpu.weight shares the machine in proportion to the cpus requested;
// cpu.max caps a container at its limit (CFS bandwidth: QUOTA us of CPU time
// per PERIOD us). Statistics from cpu.stat and cpu.pressure, which every
// cgroup has; the throttling counters only with the controller.

#include <cstdint>

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class CpuController final : public FileController {
 public:
  std::string_view name() const override { return "cpu"; }
  Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                            const std::filesystem::path& cgroup) const override;
  std::span<const StatFile> stat_files() const override;
};

// cgroup v2 weights range over [1, 10000] with 100 as every cgroup's default,
// so a 1-cpu container competes evenly with anything left at the default.
std::uint64_t cpu_weight(double cpus);

}  // namespace berth::isolators::cgroups2
