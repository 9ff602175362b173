#pragma once
// How a task reaches the network, from its TaskInfo:
//   - ContainerInfo.docker.network HOST, BRIDGE or NONE (USER is refused);
//   - otherwise the label berth.network=host|bridge|none (default host);
//   - or ContainerInfo.network_infos naming the network "bridge" (Mesos's
//     way to join a named network), with its port_mappings;
//   - docker.port_mappings (tcp or udp), each host port within the task's
//     own `ports` resources, as Mesos requires;
//   - per-task bandwidth limits in the labels berth.egress_rate_limit and
//     berth.ingress_rate_limit (bytes per second, with the agent's flag
//     syntax: 10MB, 512KB, 0 for none).
// And the PORT0..PORTn variables a task is given: its ports resources in
// host mode, the container ports of its mappings in bridge mode.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/isolator.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

// The name a task's NetworkInfo gives the agent's bridge network.
inline constexpr const char* kBridgeNetwork = "bridge";

// "1048576", "1048576B", "512KB", "10MB", "1GB" (powers of 1024) -> bytes.
Result<std::uint64_t> parse_bytes(std::string_view text);

Result<isolators::TaskNetwork> task_network(const berth::mesos::v1::TaskInfo& task);

std::vector<std::string> port_env(const berth::mesos::v1::TaskInfo& task, const isolators::TaskNetwork& network);

}  // namespace berth::agent
