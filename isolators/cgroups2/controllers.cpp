#include "berth/isolators/cgroups2/controllers.hpp"

#include <algorithm>
#include <array>

#include "berth/isolators/cgroups2/cpu.hpp"
#include "berth/isolators/cgroups2/cpuset.hpp"
#include "berth/isolators/cgroups2/devices.hpp"
#include "berth/isolators/cgroups2/hugetlb.hpp"
#include "berth/isolators/cgroups2/io.hpp"
#include "berth/isolators/cgroups2/memory.hpp"
#include "berth/isolators/cgroups2/pids.hpp"

namespace berth::isolators::cgroups2 {

namespace {

constexpr std::string_view kDevices = "devices";

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "none" : text;
}

Result<void> check_known(const std::vector<std::string>& required) {
  for (const auto& name : required) {
    if (find_controller(name) == nullptr) {
      std::vector<std::string> known;
      for (const auto* controller : all_controllers()) known.emplace_back(controller->name());
      return fail("unknown cgroup controller \"" + name + "\" (known: " + joined(known) + ")");
    }
  }
  return {};
}

}  // namespace

std::span<const Controller* const> all_controllers() {
  static const CpusetController cpuset;
  static const CpuController cpu;
  static const MemoryController memory;
  static const PidsController pids;
  static const IoController io;
  static const HugetlbController hugetlb;
  static const DevicesController devices;
  static const std::array<const Controller*, 7> table{&cpuset, &cpu, &memory, &pids, &io, &hugetlb, &devices};
  return table;
}

const Controller* find_controller(std::string_view name) {
  auto table = all_controllers();
  auto found = std::ranges::find_if(table, [&](const Controller* controller) { return controller->name() == name; });
  return found == table.end() ? nullptr : *found;
}

std::vector<std::string> kernel_controller_names() {
  std::vector<std::string> names;
  for (const auto* controller : all_controllers()) {
    if (controller->name() != kDevices) names.emplace_back(controller->name());
  }
  return names;
}

Result<Statistics> read_cgroup_statistics(const std::filesystem::path& cgroup,
                                          const std::vector<std::string>& enabled) {
  Statistics statistics;
  for (const auto* controller : all_controllers()) {
    auto selection = contains(enabled, controller->name()) ? StatSelection::all : StatSelection::core_only;
    BERTH_TRY_VOID(read_statistics(*controller, cgroup, selection, statistics));
  }
  return statistics;
}

Result<Detection> detect_controllers(const std::vector<std::string>& offered, const std::vector<std::string>& required,
                                     const Result<void>& device_support) {
  BERTH_TRY_VOID(check_known(required));
  Detection detection;
  detection.available = offered;
  if (device_support) detection.available.emplace_back(kDevices);
  else detection.devices_error = device_support.error().what();
  for (const auto* controller : all_controllers()) {
    std::string name(controller->name());
    if (!contains(required, name)) continue;
    (contains(detection.available, name) ? detection.enabled : detection.missing).push_back(name);
  }
  return detection;
}

std::string missing_controllers_message(const std::filesystem::path& root, const Detection& detection) {
  std::string message = "cgroup root " + root.string() + " lacks the required cgroup controllers " +
                        joined(detection.missing) + " (it offers: " + joined(detection.available) + ")";
  if (contains(detection.missing, kDevices)) {
    message += "; devices: the eBPF device filter cannot be loaded here: " + detection.devices_error;
  }
  return message + "; pass --allow_missing_cgroup_controllers to run without them";
}

}  // namespace berth::isolators::cgroups2
