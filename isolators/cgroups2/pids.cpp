#include "berth/isolators/cgroups2/pids.hpp"

#include "berth/isolators/cgroups2/stat_text.hpp"

namespace berth::isolators::cgroups2 {

namespace {

Result<void> parse_pids_current(std::string_view text, Statistics& out) {
  BERTH_TRY(out.pids_current, stat_text::single_value(text));
  return {};
}

// "max N" (6.x kernels may add "max.imposed"; only "max" is the limit of
// this cgroup refusing forks).
Result<void> parse_pids_events(std::string_view text, Statistics& out) {
  out.pids_max_events.reset();
  return stat_text::for_each_key(text, [&](std::string_view key, std::string_view value) -> Result<void> {
    if (key == "max") return stat_text::store(key, value, out.pids_max_events);
    return {};
  });
}

constexpr StatFile kStatFiles[] = {
    {"pids.current", StatScope::controller, StatPresence::required, StatKind::counters, parse_pids_current, 64},
    {"pids.events", StatScope::controller, StatPresence::required, StatKind::counters, parse_pids_events, 64},
};

}  // namespace

Result<std::vector<CgroupFileWrite>> PidsController::plan(const Limits& limits, Unset unset,
                                                          const std::filesystem::path& /*cgroup*/) const {
  std::vector<CgroupFileWrite> writes;
  if (limits.pids_max) writes.push_back({"pids.max", stat_text::limit_value(*limits.pids_max)});
  else if (unset == Unset::restore) writes.push_back({"pids.max", "max"});
  return writes;
}

std::span<const StatFile> PidsController::stat_files() const { return kStatFiles; }

}  // namespace berth::isolators::cgroups2
