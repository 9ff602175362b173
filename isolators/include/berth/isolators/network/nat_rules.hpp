#pragma once
// The agent's nftables table (`ip berth`), through libnftables, in the
// calling thread's network namespace:
//   - a map from (protocol, host port) to (container address, container port),
//     applied as DNAT to traffic for any of the host's own addresses, from
//     other hosts (prerouting) and from the host itself (output);
//   - masquerade for the containers' traffic leaving the bridge, for the
//     host's loopback traffic sent into it (a mapping reached at 127.0.0.1),
//     and for a container reaching another through a host port.
// install() replaces the table in one transaction; mappings are elements of
// the map, added and removed by key.

#include <memory>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/network/ipam.hpp"
#include "berth/isolators/network/ipv4.hpp"

struct nft_ctx;

namespace berth::isolators::network {

class NatRules {
 public:
  static constexpr const char* kTable = "berth";

  static Result<std::unique_ptr<NatRules>> create();
  ~NatRules();
  NatRules(const NatRules&) = delete;
  NatRules& operator=(const NatRules&) = delete;

  // (Re)creates the table for containers of `subnet` on `bridge`, with no mappings.
  Result<void> install(const std::string& bridge, const Ipv4Cidr& subnet);
  Result<void> add(Ipv4Address container, const std::vector<PortMapping>& ports);
  // Removing a mapping that is not there is not an error.
  Result<void> remove(const std::vector<PortMapping>& ports);
  // Removes the table (nothing of Berth's is left in nftables).
  Result<void> uninstall();
  // The mappings in the kernel's map, as "tcp 8080 -> 172.31.0.2:80".
  Result<std::vector<std::string>> mappings();

 private:
  explicit NatRules(nft_ctx* ctx) : ctx_(ctx) {}
  Result<std::string> run(const std::string& commands);
  nft_ctx* ctx_;
};

}  // namespace berth::isolators::network
