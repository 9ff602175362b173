#pragma once
// pids: pids.max bounds the tasks (processes and threads) of the container,
// so a fork bomb fails inside it. Statistics: pids.current, and pids.events'
// "max", the forks refused at the limit.

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class PidsController final : public FileController {
 public:
  std::string_view name() const override { return "pids"; }
  Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                            const std::filesystem::path& cgroup) const override;
  std::span<const StatFile> stat_files() const override;
};

}  // namespace berth::isolators::cgroups2
