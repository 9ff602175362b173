// CgroupsIsolator::limitation: which limit, if any, the kernel enforced on a
// container, from the counters its controllers keep.

#include <algorithm>

#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/cgroups2/controllers.hpp"

namespace berth::isolators {
namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

// A limit file's value as the kernel prints it ("33554432", "max").
Result<std::string> limit_text(const fs::path& file) {
  BERTH_TRY(auto text, cgroupfs::read_file(file));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Result<cgroups2::Statistics> controller_statistics(std::string_view controller, const fs::path& cgroup) {
  cgroups2::Statistics statistics;
  BERTH_TRY_VOID(cgroups2::read_statistics(*cgroups2::find_controller(controller), cgroup,
                                           cgroups2::StatSelection::all, statistics));
  return statistics;
}

std::string bytes(const std::string& limit) { return limit == "max" ? limit : limit + " bytes"; }

// memory.events counts the subtree's OOM kills (hierarchical by default).
Result<std::optional<Limitation>> memory_limitation(const fs::path& cgroup) {
  BERTH_TRY(auto statistics, controller_statistics("memory", cgroup));
  if (statistics.memory_oom_kill.value_or(0) == 0) return std::nullopt;
  BERTH_TRY(auto max, limit_text(cgroup / "memory.max"));
  std::string message = "Memory limit exceeded: the OOM killer ended the container at memory.max = " + bytes(max);
  if (statistics.memory_peak) message += " (peak " + std::to_string(*statistics.memory_peak) + " bytes)";
  return Limitation{Limitation::Kind::memory, std::move(message)};
}

// pids.events "max" counts the forks refused at this cgroup's pids.max.
Result<std::optional<Limitation>> pids_limitation(const fs::path& cgroup) {
  BERTH_TRY(auto statistics, controller_statistics("pids", cgroup));
  std::uint64_t refused = statistics.pids_max_events.value_or(0);
  if (refused == 0) return std::nullopt;
  BERTH_TRY(auto max, limit_text(cgroup / "pids.max"));
  return Limitation{Limitation::Kind::pids, "pids limit reached: " + std::to_string(refused) + " fork" +
                                               (refused == 1 ? "" : "s") + " refused at pids.max = " + max};
}

}  // namespace

Result<std::optional<Limitation>> read_limitation(const fs::path& cgroup, const std::vector<std::string>& enabled) {
  if (contains(enabled, "memory")) {
    BERTH_TRY(auto memory, memory_limitation(cgroup));
    if (memory) return memory;
  }
  if (contains(enabled, "pids")) return pids_limitation(cgroup);
  return std::nullopt;
}

}  // namespace berth::isolators
