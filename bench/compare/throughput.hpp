#pragma once
// Sustained launches of short tasks the way the agent runs them: one event
// loop thread launching, an ExitWatcher observing exits, `concurrency`
// containers in flight, each with its own cgroup, for `seconds`.

#include <cstddef>
#include <filesystem>
#include <string>

#include "berth/common/error.hpp"
#include "berth/launcher/netns_pool.hpp"
#include "berth/launcher/oci_spec.hpp"

namespace berth::bench {

struct ThroughputOptions {
  double seconds = 5;
  int concurrency = 8;
};

struct ThroughputResult {
  std::size_t launches = 0;
  double elapsed_s = 0;
  double loop_cpu_s = 0;      // this process: the launching loop (the agent's share)
  double children_cpu_s = 0;  // the containers' init and task processes
  std::string exit_backend;
};

Result<ThroughputResult> measure_throughput(const launcher::oci::Spec& spec, const std::filesystem::path& cgroup_parent,
                                            const std::filesystem::path& scratch, const ThroughputOptions& options,
                                            launcher::NetworkNamespacePool* pool = nullptr);

// The floor: posix_spawn of busybox true, no isolation, `concurrency` in
// flight, for `seconds`; launches per second.
double measure_spawn_throughput(const ThroughputOptions& options);

}  // namespace berth::bench
