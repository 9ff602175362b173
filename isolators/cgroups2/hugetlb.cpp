#include "berth/isolators/cgroups2/hugetlb.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "berth/isolators/cgroups2/stat_text.hpp"

namespace berth::isolators::cgroups2 {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "hugetlb.", kSuffix = ".max";

// The sizes that have a hugetlb.<size>.max in `cgroup` (not the
// hugetlb.<size>.rsvd.max of reservations).
Result<std::vector<std::string>> listed_sizes(const fs::path& cgroup) {
  std::error_code ec;
  fs::directory_iterator it(cgroup, ec);
  if (ec) return fail(Error("list hugetlb files in", ec.value(), cgroup.string()));
  std::vector<std::string> sizes;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    std::string size = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (is_huge_page_size(size)) sizes.push_back(std::move(size));
  }
  std::ranges::sort(sizes);
  return sizes;
}

std::string max_file(std::string_view size) { return std::string(kPrefix) + std::string(size) + std::string(kSuffix); }

}  // namespace

bool is_huge_page_size(std::string_view size) {
  if (size.size() < 3) return false;
  std::string_view unit = size.substr(size.size() - 2), digits = size.substr(0, size.size() - 2);
  bool numeric = std::ranges::all_of(digits, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  return numeric && (unit == "KB" || unit == "MB" || unit == "GB");
}

Result<std::vector<CgroupFileWrite>> HugetlbController::plan(const Limits& limits, Unset unset,
                                                             const fs::path& cgroup) const {
  std::vector<CgroupFileWrite> writes;
  for (const auto& [size, bytes] : limits.hugetlb) {
    if (!is_huge_page_size(size)) {
      return fail("hugetlb[\"" + size + "\"]: not a huge page size as the kernel names it (\"2MB\", \"1GB\")");
    }
    writes.push_back({max_file(size), stat_text::limit_value(bytes)});
  }
  if (unset == Unset::keep) return writes;
  BERTH_TRY(auto sizes, listed_sizes(cgroup));
  for (const auto& size : sizes) {
    if (!limits.hugetlb.contains(size)) writes.push_back({max_file(size), "max"});
  }
  return writes;
}

}  // namespace berth::isolators::cgroups2
