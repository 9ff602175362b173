#include <array>

#include "berth/isolators/cgroup_controllers.hpp"

namespace berth::isolators {

std::span<const CgroupController* const> cgroup_controllers() {
  static const CpuController cpu;
  static const MemoryController memory;
  static const PidsController pids;
  static const std::array<const CgroupController*, 3> table{&cpu, &memory, &pids};
  return table;
}

}  // namespace berth::isolators
