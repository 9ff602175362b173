#pragma once
// What the agent advertises: the host's cpus, memory and disk (less a reserve for
// the system, as Mesos does), ports 31000-32000, with any resource named in
// --resources replacing the detected one. --resources may reserve resources
// for roles ("cpus:2;cpus(eng):6"), as Mesos's static reservations do.

#include <filesystem>
#include <string_view>

#include "berth/common/resource_pools.hpp"
#include "berth/common/resources.hpp"

namespace berth::agent {

struct HostFacts {
  double cpus = 0;
  double mem_mb = 0;    // total physical memory
  double disk_mb = 0;   // size of the work directory's filesystem
};

Result<HostFacts> probe_host(const std::filesystem::path& work_dir);
Resources default_resources(const HostFacts& facts);
// Parses --resources (text or JSON) and lays it over the defaults.
Result<ResourcePools> agent_resources(const HostFacts& facts, std::string_view flag);

}  // namespace berth::agent
