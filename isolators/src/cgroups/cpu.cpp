#include <algorithm>
#include <cmath>
#include <string>

#include "berth/isolators/cgroup_controllers.hpp"
#include "berth/isolators/cgroupfs.hpp"

namespace berth::isolators {

// cgroup v2 weights range over [1, 10000] with 100 as every cgroup's default,
// so a 1-cpu container competes evenly with anything left at the default.
std::uint64_t cpu_weight(double cpus) {
  constexpr double kDefaultWeight = 100, kMinWeight = 1, kMaxWeight = 10'000;
  return static_cast<std::uint64_t>(std::clamp(std::round(cpus * kDefaultWeight), kMinWeight, kMaxWeight));
}

Result<void> CpuController::apply(const ContainerConfig& config, const std::filesystem::path& cgroup) const {
  if (config.cpus <= 0) return {};
  return cgroupfs::write_file(cgroup / "cpu.weight", std::to_string(cpu_weight(config.cpus)));
}

}  // namespace berth::isolators
