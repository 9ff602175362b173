#pragma once
// cpuset: pins the container to CPUs (cpuset.cpus) and memory nodes
// (cpuset.mems), each a list such as "0-3,6". Empty means the parent's.

#include <string_view>

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class CpusetController final : public FileController {
 public:
  std::string_view name() const override { return "cpuset"; }
  Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                            const std::filesystem::path& cgroup) const override;
};

// Whether `list` is a cpuset list: comma-separated numbers and ranges "A-B"
// with A <= B, as the kernel's bitmap_parselist takes them (no spaces).
bool is_cpuset_list(std::string_view list);

}  // namespace berth::isolators::cgroups2
