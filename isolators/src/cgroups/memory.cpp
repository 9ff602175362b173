#include <string>

#include "berth/isolators/cgroup_controllers.hpp"
#include "berth/isolators/cgroupfs.hpp"

namespace berth::isolators {

Result<void> MemoryController::apply(const ContainerConfig& config, const std::filesystem::path& cgroup) const {
  if (config.mem_bytes == 0) return {};
  return cgroupfs::write_file(cgroup / "memory.max", std::to_string(config.mem_bytes));
}

}  // namespace berth::isolators
