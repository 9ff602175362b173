#pragma once

#include <cstdint>
#include <string_view>

namespace berth::isolators::network {

enum class Protocol { tcp, udp };
std::string_view to_string(Protocol protocol);

// A host port forwarded to a container port.
struct PortMapping {
  std::uint16_t host_port = 0;
  std::uint16_t container_port = 0;
  Protocol protocol = Protocol::tcp;
  bool operator==(const PortMapping&) const = default;
};

}  // namespace berth::isolators::network
