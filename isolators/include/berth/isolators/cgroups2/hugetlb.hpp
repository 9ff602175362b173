#pragma once
// hugetlb: hugetlb.<size>.max bounds the huge pages of each size the
// container may fault in, in bytes; sizes as the kernel names them ("2MB",
// "1GB"), one file per size the machine supports.

#include <string_view>

#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

class HugetlbController final : public FileController {
 public:
  std::string_view name() const override { return "hugetlb"; }
  Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                            const std::filesystem::path& cgroup) const override;
};

// Whether `size` is a huge page size as the kernel names it: a number and
// KB, MB or GB (mm/hugetlb_cgroup.c mem_fmt).
bool is_huge_page_size(std::string_view size);

}  // namespace berth::isolators::cgroups2
