#pragma once
// Addresses for bridge-mode containers out of one subnet, each lease a file
// in the agent's work directory so that leases outlive an agent restart:
//   <dir>/<address>   "container <id>\ninterface <host veth>\nport <tcp|udp> <host> <container>\n..."
// A lease is written to a temporary file, synced, then linked into place
// (link(2) fails if the name exists, so two leases never share an address).
// The subnet's first address is the bridge (the containers' gateway); the
// last is its broadcast address.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/network/ipv4.hpp"
#include "berth/isolators/network/port_mapping.hpp"

namespace berth::isolators::network {

struct Lease {
  std::string container_id;
  Ipv4Address address;
  std::string host_interface;  // the host end of the container's veth pair
  std::vector<PortMapping> ports;
};

class Ipam {
 public:
  // Reads the leases in `dir` (made if missing). A file that does not parse,
  // or holds an address outside `subnet`, is logged and removed.
  static Result<std::unique_ptr<Ipam>> open(std::filesystem::path dir, Ipv4Cidr subnet);

  const Ipv4Cidr& subnet() const { return subnet_; }
  Ipv4Address gateway() const { return subnet_.network + 1; }
  // The next free address, recorded (durably) for `container_id`. Fails if
  // the container has a lease, a host port is mapped already (by this lease
  // or another), or the subnet is exhausted.
  Result<Lease> allocate(const std::string& container_id, const std::string& host_interface,
                         const std::vector<PortMapping>& ports);
  // Removes the container's lease; none is not an error.
  Result<void> release(const std::string& container_id);
  const Lease* find(const std::string& container_id) const;
  std::vector<Lease> leases() const;

 private:
  Ipam(std::filesystem::path dir, Ipv4Cidr subnet) : dir_(std::move(dir)), subnet_(subnet) {}
  Result<void> load();

  std::filesystem::path dir_;
  Ipv4Cidr subnet_;
  std::map<std::string, Lease> by_container_;
  std::map<Ipv4Address, std::string> by_address_;
  Ipv4Address cursor_;  // where the search for a free address starts
};

}  // namespace berth::isolators::network
