#pragma once
// io: io.max throttles a block device ("MAJ:MIN rbps=N wbps=N riops=N
// wiops=N", one device per write), io.weight shares disk time ("default W",
// and "MAJ:MIN W" per device; needs the iocost controller on the device).
// Statistics: io.stat per device, io.pressure.

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class IoController final : public FileController {
 public:
  std::string_view name() const override { return "io"; }
  Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                            const std::filesystem::path& cgroup) const override;
  std::span<const StatFile> stat_files() const override;
};

}  // namespace berth::isolators::cgroups2
