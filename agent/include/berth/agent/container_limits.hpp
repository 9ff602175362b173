#pragma once
// What a task's cgroup enforces, from the task as a framework describes it,
// with Mesos's semantics: `resources` are requests, `limits` (TaskInfo.limits,
// Mesos 1.9+) may raise the cpus and mem limits above them, infinity meaning
// none. Labels carry what Mesos has no field for:
//   berth.pids_max       pids.max of the task's container
//   berth.cpuset.cpus    pin to these CPUs ("0-3,6")
//   berth.cpuset.mems    and these memory nodes
//   berth.io.max         io.max lines, ";"-separated ("8:0 rbps=1048576 wbps=1048576")

#include <cstdint>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/isolators/cgroups2/limits.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

// The agent's own settings that shape every container's limits (its flags).
struct LimitsPolicy {
  bool cpu_quota_from_request = true;  // --cgroups_enable_cfs
  std::uint64_t cpu_period_us = 100'000;
  bool no_swap = false;                // --cgroups_limit_swap
  std::uint64_t pids_max = 0;          // --container_pids_max; 0: none
};

// Errors name what is wrong, e.g. "limits[\"mem\"]: 64 MB is below the 128 MB requested".
Result<isolators::cgroups2::Limits> container_limits(const mesos::v1::TaskInfo& task, const LimitsPolicy& policy);

// `current` with the changes a JSON object asks for, for a live update:
// {"cpus": 1.5, "cpus_limit": 2, "mem": 256, "mem_limit": 512, "pids_max": 64}
// (mem in MB, a limit of "infinity" for none; absent fields stay). Errors
// name the field.
Result<isolators::cgroups2::Limits> updated_limits(const isolators::cgroups2::Limits& current, std::string_view json);

}  // namespace berth::agent
