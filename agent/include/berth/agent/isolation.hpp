#pragma once
// The agent's --isolation flag, Mesos-style ("cgroups/cpu,cgroups/mem"), as
// the cgroup controllers the cgroups isolator must use.

#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::agent {

// cgroups/cpu -> cpu, cgroups/mem -> memory, cgroups/pids -> pids,
// cgroups/io and cgroups/blkio -> io, cgroups/cpuset -> cpuset,
// cgroups/hugetlb -> hugetlb, cgroups/devices -> devices (the eBPF filter).
// network/bridge names no controller. Errors name the isolator that is not
// known; duplicates are dropped.
Result<std::vector<std::string>> cgroup_controllers_for(std::string_view isolation);

// Whether --isolation names network/bridge: containers may then have a
// network namespace of their own (bridge or none mode).
bool network_isolation(std::string_view isolation);

}  // namespace berth::agent
