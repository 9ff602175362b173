#pragma once
// Links, addresses, routes and qdiscs through rtnetlink (libnl-route-3), in
// the network namespace the socket was opened in. Every error names the
// operation and the interface.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/network/ipv4.hpp"

struct nl_sock;

namespace berth::isolators::network {

struct LinkCounters {
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t rx_dropped = 0;
  std::uint64_t tx_dropped = 0;
};

struct InterfaceAddress {
  Ipv4Address address;
  int prefix = 32;
};

class RouteSocket {
 public:
  // A socket in the calling thread's network namespace.
  static Result<RouteSocket> open();
  // A socket in the namespace `netns_fd` refers to.
  static Result<RouteSocket> open_in(int netns_fd);
  RouteSocket(RouteSocket&&) noexcept;
  RouteSocket& operator=(RouteSocket&&) noexcept;
  ~RouteSocket();

  // The interface's index; an error with ENODEV when there is none.
  Result<int> index(const std::string& name);
  Result<bool> exists(const std::string& name);
  Result<std::vector<std::string>> links();

  Result<void> add_bridge(const std::string& name);
  // A veth pair: `name` here, `peer` (created directly) in `peer_netns_fd`'s namespace.
  Result<void> add_veth(const std::string& name, const std::string& peer, int peer_netns_fd);
  Result<void> delete_link(const std::string& name);
  // Sets the interface up, enslaved to `master` when one is named.
  Result<void> set_up(const std::string& name, const std::string& master = {});

  Result<void> add_address(const std::string& name, InterfaceAddress address);
  Result<std::vector<InterfaceAddress>> addresses(const std::string& name);
  Result<void> add_default_route(const std::string& name, Ipv4Address gateway);
  // IPv4 routes in the main table, as "DESTINATION/PREFIX dev NAME".
  Result<std::vector<std::string>> routes();

  // A token bucket as the root qdisc of the interface's egress: `rate`
  // bytes per second with a bucket of `burst` bytes; packets wait at most
  // 50 ms for tokens before they are dropped.
  Result<void> set_rate_limit(const std::string& name, std::uint64_t rate, std::uint64_t burst);
  // The kind of the interface's root qdisc ("noqueue", "tbf", ...).
  Result<std::string> root_qdisc(const std::string& name);

  Result<LinkCounters> counters(const std::string& name);

 private:
  explicit RouteSocket(nl_sock* socket) : socket_(socket) {}
  nl_sock* socket_ = nullptr;
};

}  // namespace berth::isolators::network
