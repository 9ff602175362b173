#pragma once
// The controllers Berth configures, as one ordered table driving the
// isolator (prepare applies in this order), and the detection of which of
// them a cgroup root offers: controllers are detected, never assumed.

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/cgroups2/controller.hpp"

namespace berth::isolators::cgroups2 {

// cpuset, cpu, memory, pids, io, hugetlb, devices.
std::span<const Controller* const> all_controllers();
// The one named `name`, or null.
const Controller* find_controller(std::string_view name);
// The names of the kernel controllers in the table (all but "devices").
std::vector<std::string> kernel_controller_names();

// A cgroup's Statistics: every controller's core files (cpu.stat and the
// *.pressure files exist without their controllers), and all the files of the
// `enabled` ones. Errors name the file.
Result<Statistics> read_cgroup_statistics(const std::filesystem::path& cgroup, const std::vector<std::string>& enabled);

struct Detection {
  std::vector<std::string> available;  // what the root offers, and "devices" where the filter loads
  std::vector<std::string> enabled;    // required and available, in table order
  std::vector<std::string> missing;    // required and not available, in table order
  std::string devices_error;           // why "devices" is not available, if it is not
};

// What `required` comes to where the root's cgroup.controllers lists
// `offered` and the device filter loads or not (`device_support`). Pure.
// Errors name an unknown controller.
Result<Detection> detect_controllers(const std::vector<std::string>& offered, const std::vector<std::string>& required,
                                     const Result<void>& device_support);

// The start-up error for `detection.missing`: which controllers, what the
// root offers, and how to run without them.
std::string missing_controllers_message(const std::filesystem::path& root, const Detection& detection);

}  // namespace berth::isolators::cgroups2
