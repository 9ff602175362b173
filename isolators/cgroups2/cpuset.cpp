#include "berth/isolators/cgroups2/cpuset.hpp"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>


namespace berth::isolators::cgroups2 {

namespace {

std::optional<std::uint32_t> number(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool is_range(std::string_view item) {
  auto dash = item.find('-');
  if (dash == std::string_view::npos) return number(item).has_value();
  auto first = number(item.substr(0, dash)), last = number(item.substr(dash + 1));
  return first && last && *first <= *last;
}

Result<void> add(std::vector<CgroupFileWrite>& writes, std::string_view field, std::string file,
                 const std::optional<std::string>& list, Unset unset) {
  if (list && !is_cpuset_list(*list)) {
    return fail(std::string(field) + ": \"" + *list + "\" is not a list such as \"0-3,6\"");
  }
  // A write of only whitespace empties the list: back to the parent's.
  if (list) writes.push_back({std::move(file), *list});
  else if (unset == Unset::restore) writes.push_back({std::move(file), "\n"});
  return {};
}

}  // namespace

bool is_cpuset_list(std::string_view list) {
  if (list.empty()) return false;
  for (;;) {
    auto comma = list.find(',');
    if (!is_range(list.substr(0, comma))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

Result<std::vector<CgroupFileWrite>> CpusetController::plan(const Limits& limits, Unset unset,
                                                            const std::filesystem::path& /*cgroup*/) const {
  std::vector<CgroupFileWrite> writes;
  BERTH_TRY_VOID(add(writes, "cpuset_cpus", "cpuset.cpus", limits.cpuset_cpus, unset));
  BERTH_TRY_VOID(add(writes, "cpuset_mems", "cpuset.mems", limits.cpuset_mems, unset));
  return writes;
}

}  // namespace berth::isolators::cgroups2
