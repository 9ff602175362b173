#pragma once
// memory: memory.max is the hard limit (the OOM killer ends the container
// past it), memory.low protects the request when the limit is higher,
// memory.high throttles and reclaims before the hard limit, memory.swap.max
// bounds swap. memory.oom.group = 1 makes an OOM kill take the whole
// container, as Mesos destroys a container that hit its limit, rather than
// one process of it.
//
// Statistics: memory.current, memory.peak (5.19+), memory.stat's anon, file
// and kernel, memory.events, memory.pressure.

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class MemoryController final : public FileController {
 public:
  std::string_view name() const override { return "memory"; }
  Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                            const std::filesystem::path& cgroup) const override;
  std::span<const StatFile> stat_files() const override;
};

}  // namespace berth::isolators::cgroups2
