#pragma once
// The isolator model (after Mesos' mesos::slave::Isolator): one class per
// isolation mechanism, every method a no-op by default. Isolators are
// declarative: `prepare` says what the launcher must do for a container
// (namespaces, the cgroup to be born in, environment); the launcher applies it.
//
// Lifecycle contract, per container, as driven by the agent:
//   prepare -> (launch) -> isolate(pid) -> usage* -> cleanup
// The agent keeps isolators in an ordered table: prepare runs in table order,
// cleanup in reverse order.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/cgroups2/limits.hpp"
#include "berth/isolators/network/port_mapping.hpp"
#include "berth/isolators/seccomp.hpp"

namespace berth::isolators {

// What a task asks of the security isolator; unset: the agent's defaults.
struct TaskSecurity {
  std::optional<std::string> seccomp_profile = {};              // a profile name, "unconfined" or ""
  std::optional<std::set<std::string>> effective_capabilities = {};  // CAP_* names
  std::optional<std::set<std::string>> bounding_capabilities = {};
  bool root = true;  // runs as uid 0 in the container
  std::optional<bool> user_namespace = {};  // unset: the agent's default
};

// Host ids [base, base + size) that a user namespace's 0.. map to.
struct IdRange {
  std::uint32_t base = 0;
  std::uint32_t size = 0;
  bool operator==(const IdRange&) const = default;
};

// How a container reaches the network (network.hpp):
//   host    the host's network namespace (and the ports the task was given)
//   bridge  a namespace of its own on the agent's bridge, with an address,
//           masqueraded egress and host ports mapped to container ports
//   none    a namespace of its own with loopback only
enum class NetworkMode { host, bridge, none };
std::string_view to_string(NetworkMode mode);

struct TaskNetwork {
  NetworkMode mode = NetworkMode::host;
  std::vector<network::PortMapping> ports = {};  // bridge only
  // Bytes per second; unset: the agent's default; 0: unlimited.
  std::optional<std::uint64_t> egress_rate = {};
  std::optional<std::uint64_t> ingress_rate = {};
};

struct ContainerConfig {
  std::string container_id = {};
  cgroups2::Limits limits = {};  // what the container's cgroup enforces
  TaskSecurity security = {};
  TaskNetwork network = {};
};

// A network namespace made for the container, and the files that describe
// it, bound over the container's own.
struct ContainerNetwork {
  std::string namespace_path;  // joined by the container (/proc/self/fd/N)
  std::string hostname;
  std::vector<std::pair<std::string, std::filesystem::path>> files;  // container path, host file
};

// Capability sets as CAP_* numbers.
struct CapabilitySets {
  std::vector<int> bounding;
  std::vector<int> effective;
  std::vector<int> permitted;
  std::vector<int> inheritable;
  std::vector<int> ambient;
};

// What the launcher must do for a container; merged over all isolators by the caller.
struct LaunchInfo {
  int namespaces = 0;                           // CLONE_NEW* flags
  std::optional<std::filesystem::path> cgroup;  // cgroup directory the container must be created in
  std::vector<std::string> env;                 // "KEY=VALUE" additions to the task's environment
  std::shared_ptr<const seccomp::Program> seccomp;  // null: no filter
  std::optional<CapabilitySets> capabilities;       // absent: left as the launcher has them
  bool no_new_privileges = false;
  std::vector<std::string> masked_paths;    // when the container has a /proc of its own
  std::vector<std::string> readonly_paths;
  std::optional<IdRange> user_ids;  // a user namespace whose root is user_ids->base on the host
  std::optional<ContainerNetwork> network;  // absent: the host's network namespace
};

struct Usage {
  std::uint64_t cpu_usage_usec = 0;
  std::uint64_t cpu_user_usec = 0;
  std::uint64_t cpu_system_usec = 0;
  std::optional<std::uint64_t> memory_current;  // absent when the memory controller is not enabled
  std::uint64_t pids_current = 0;
  // What the container sent and received, when it has a network of its own.
  std::optional<std::uint64_t> net_rx_bytes;
  std::optional<std::uint64_t> net_rx_packets;
  std::optional<std::uint64_t> net_tx_bytes;
  std::optional<std::uint64_t> net_tx_packets;
  std::optional<std::uint64_t> net_rx_dropped;
  std::optional<std::uint64_t> net_tx_dropped;
};

class Isolator {
 public:
  virtual ~Isolator() = default;

  virtual std::string_view name() const = 0;

  // Called once at agent start with the ids of the containers the agent still
  // knows about; an isolator removes whatever it owns that is not in the list
  // (orphans left by a crash or by containers that ended while the agent was down).
  virtual Result<void> recover(const std::vector<std::string>& /*known_container_ids*/) { return {}; }

  // Called before the container is launched.
  virtual Result<LaunchInfo> prepare(const ContainerConfig& /*config*/) { return LaunchInfo{}; }

  // Called once the container's init runs, with its pid as seen by the agent.
  virtual Result<void> isolate(const std::string& /*container_id*/, pid_t /*pid*/) { return {}; }

  virtual Result<Usage> usage(const std::string& /*container_id*/) { return Usage{}; }

  // Called exactly once per container after it ended or failed to launch, and
  // always after prepare. It may be called for a container the isolator does
  // not know (prepare failed, or after a restart): that is not an error.
  virtual Result<void> cleanup(const std::string& /*container_id*/) { return {}; }
};

}  // namespace berth::isolators
