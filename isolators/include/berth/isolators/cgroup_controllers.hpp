#pragma once
// The cgroup v2 controllers Berth configures, one class per kernel controller
// (after youki's libcgroups/v2). The CgroupsIsolator enables each one the
// kernel offers and applies it only where the container's cgroup.controllers
// lists it: controllers are detected, never assumed.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/isolators/isolator.hpp"

namespace berth::isolators {

class CgroupController {
 public:
  virtual ~CgroupController() = default;
  // As spelled in cgroup.controllers.
  virtual std::string_view name() const = 0;
  // Writes the container's limits into its cgroup directory.
  virtual Result<void> apply(const ContainerConfig& /*config*/, const std::filesystem::path& /*cgroup*/) const {
    return {};
  }
};

// cpu.weight proportional to the container's cpus (1 cpu = the default 100).
class CpuController final : public CgroupController {
 public:
  std::string_view name() const override { return "cpu"; }
  Result<void> apply(const ContainerConfig& config, const std::filesystem::path& cgroup) const override;
};
std::uint64_t cpu_weight(double cpus);

// memory.max = the container's memory, when it has a limit.
class MemoryController final : public CgroupController {
 public:
  std::string_view name() const override { return "memory"; }
  Result<void> apply(const ContainerConfig& config, const std::filesystem::path& cgroup) const override;
};

// Nothing to limit yet; enabled so pids.current accounts the container.
class PidsController final : public CgroupController {
 public:
  std::string_view name() const override { return "pids"; }
};

// Every controller above, in the order they are applied.
std::span<const CgroupController* const> cgroup_controllers();

}  // namespace berth::isolators
