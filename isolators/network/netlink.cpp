#include "berth/isolators/network/netlink.hpp"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include <cstring>
#include <limits>
#include <utility>

#include "berth/common/netns.hpp"

namespace berth::isolators::network {

namespace {

// libnl objects, released by their own put/free functions.
template <typename T, void (*Release)(T*)>
struct Owned {
  T* ptr = nullptr;
  Owned() = default;
  explicit Owned(T* p) : ptr(p) {}
  Owned(Owned&& other) noexcept : ptr(std::exchange(other.ptr, nullptr)) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (ptr) Release(ptr);
  }
  T* get() const { return ptr; }
  T** out() { return &ptr; }
};
using Link = Owned<rtnl_link, rtnl_link_put>;
using Addr = Owned<rtnl_addr, rtnl_addr_put>;
using Route = Owned<rtnl_route, rtnl_route_put>;
using Qdisc = Owned<rtnl_qdisc, rtnl_qdisc_put>;
using Cache = Owned<nl_cache, nl_cache_free>;
using NlAddr = Owned<nl_addr, nl_addr_put>;

// libnl returns negative NLE_* codes; their text says what the kernel refused.
Error nl_error(const std::string& what, int code, const std::string& name = {}) {
  auto message = what + (name.empty() ? "" : " '" + name + "'") + ": " + nl_geterror(code);
  int err = 0;
  switch (-code) {
    case NLE_EXIST: err = EEXIST; break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV: err = ENODEV; break;
    case NLE_PERM: err = EPERM; break;
    case NLE_NOMEM: err = ENOMEM; break;
    case NLE_INVAL: err = EINVAL; break;
    default: err = 0;
  }
  return Error(std::move(message), err);
}

NlAddr ipv4(Ipv4Address address, int prefix) {
  std::uint32_t be = htonl(address.value);
  NlAddr out(nl_addr_build(AF_INET, &be, sizeof be));
  if (out.get()) nl_addr_set_prefixlen(out.get(), prefix);
  return out;
}

Ipv4Address from_nl(nl_addr* addr) {
  std::uint32_t be = 0;
  if (addr && nl_addr_get_len(addr) == sizeof be) std::memcpy(&be, nl_addr_get_binary_addr(addr), sizeof be);
  return {ntohl(be)};
}

}  // namespace

Result<RouteSocket> RouteSocket::open() {
  nl_sock* socket = nl_socket_alloc();
  if (!socket) return fail("netlink: cannot allocate a socket");
  RouteSocket out(socket);
  if (int err = nl_connect(socket, NETLINK_ROUTE); err < 0) return fail(nl_error("netlink: connect", err));
  return out;
}

Result<RouteSocket> RouteSocket::open_in(int netns_fd) {
  BERTH_TRY(auto entered, netns::Enter::into(netns_fd));
  return open();
}

RouteSocket::RouteSocket(RouteSocket&& other) noexcept : socket_(std::exchange(other.socket_, nullptr)) {}
RouteSocket& RouteSocket::operator=(RouteSocket&& other) noexcept {
  if (this != &other) {
    if (socket_) nl_socket_free(socket_);
    socket_ = std::exchange(other.socket_, nullptr);
  }
  return *this;
}
RouteSocket::~RouteSocket() {
  if (socket_) nl_socket_free(socket_);
}

Result<int> RouteSocket::index(const std::string& name) {
  Link link;
  if (int err = rtnl_link_get_kernel(socket_, 0, name.c_str(), link.out()); err < 0) {
    return fail(nl_error("no interface", err, name));
  }
  return rtnl_link_get_ifindex(link.get());
}

Result<bool> RouteSocket::exists(const std::string& name) {
  auto found = index(name);
  if (found) return true;
  if (found.error().code() == ENODEV) return false;
  return fail(std::move(found).error());
}

Result<std::vector<std::string>> RouteSocket::links() {
  Cache cache;
  if (int err = rtnl_link_alloc_cache(socket_, AF_UNSPEC, cache.out()); err < 0) {
    return fail(nl_error("listing interfaces", err));
  }
  std::vector<std::string> names;
  for (auto* object = nl_cache_get_first(cache.get()); object; object = nl_cache_get_next(object)) {
    names.emplace_back(rtnl_link_get_name(reinterpret_cast<rtnl_link*>(object)));
  }
  return names;
}

Result<void> RouteSocket::add_bridge(const std::string& name) {
  if (int err = rtnl_link_bridge_add(socket_, name.c_str()); err < 0) return fail(nl_error("adding bridge", err, name));
  return {};
}

Result<void> RouteSocket::add_veth(const std::string& name, const std::string& peer_name, int peer_netns_fd) {
  rtnl_link* link = rtnl_link_veth_alloc();
  if (!link) return fail("netlink: cannot allocate a veth");
  rtnl_link_set_name(link, name.c_str());
  rtnl_link* peer = rtnl_link_veth_get_peer(link);
  rtnl_link_set_name(peer, peer_name.c_str());
  rtnl_link_set_ns_fd(peer, peer_netns_fd);
  rtnl_link_put(peer);
  int err = rtnl_link_add(socket_, link, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_veth_release(link);
  if (err < 0) return fail(nl_error("adding veth pair", err, name));
  return {};
}

Result<void> RouteSocket::delete_link(const std::string& name) {
  Link link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  if (int err = rtnl_link_delete(socket_, link.get()); err < 0) return fail(nl_error("deleting interface", err, name));
  return {};
}

Result<void> RouteSocket::set_up(const std::string& name, const std::string& master) {
  Link current;
  if (int err = rtnl_link_get_kernel(socket_, 0, name.c_str(), current.out()); err < 0) {
    return fail(nl_error("no interface", err, name));
  }
  Link change(rtnl_link_alloc());
  if (!master.empty()) {
    BERTH_TRY(int master_index, index(master));
    rtnl_link_set_master(change.get(), master_index);
  }
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(socket_, current.get(), change.get(), 0); err < 0) {
    return fail(nl_error(master.empty() ? "setting up" : "attaching to " + master + " and setting up", err, name));
  }
  return {};
}

Result<void> RouteSocket::add_address(const std::string& name, InterfaceAddress address) {
  BERTH_TRY(int link_index, index(name));
  Addr addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), link_index);
  auto local = ipv4(address.address, address.prefix);
  rtnl_addr_set_local(addr.get(), local.get());
  if (address.prefix < 31) {
    auto broadcast = ipv4(Ipv4Cidr{address.address, address.prefix}.broadcast(), 32);
    rtnl_addr_set_broadcast(addr.get(), broadcast.get());
  }
  if (int err = rtnl_addr_add(socket_, addr.get(), 0); err < 0) {
    return fail(nl_error("adding address " + address.address.str() + "/" + std::to_string(address.prefix) + " to", err,
                         name));
  }
  return {};
}

Result<std::vector<InterfaceAddress>> RouteSocket::addresses(const std::string& name) {
  BERTH_TRY(int link_index, index(name));
  Cache cache;
  if (int err = rtnl_addr_alloc_cache(socket_, cache.out()); err < 0) return fail(nl_error("listing addresses", err));
  std::vector<InterfaceAddress> out;
  for (auto* object = nl_cache_get_first(cache.get()); object; object = nl_cache_get_next(object)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_ifindex(addr) != link_index || rtnl_addr_get_family(addr) != AF_INET) continue;
    out.push_back({from_nl(rtnl_addr_get_local(addr)), rtnl_addr_get_prefixlen(addr)});
  }
  return out;
}

Result<void> RouteSocket::add_default_route(const std::string& name, Ipv4Address gateway) {
  BERTH_TRY(int link_index, index(name));
  Route route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  auto any = ipv4({0}, 0);
  rtnl_route_set_dst(route.get(), any.get());
  auto* hop = rtnl_route_nh_alloc();
  auto via = ipv4(gateway, 32);
  rtnl_route_nh_set_gateway(hop, via.get());
  rtnl_route_nh_set_ifindex(hop, link_index);
  rtnl_route_add_nexthop(route.get(), hop);  // the route owns it now
  if (int err = rtnl_route_add(socket_, route.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return fail(nl_error("adding the default route via " + gateway.str() + " on", err, name));
  }
  return {};
}

Result<std::vector<std::string>> RouteSocket::routes() {
  Cache links;
  if (int err = rtnl_link_alloc_cache(socket_, AF_UNSPEC, links.out()); err < 0) {
    return fail(nl_error("listing interfaces", err));
  }
  Cache cache;
  if (int err = rtnl_route_alloc_cache(socket_, AF_INET, 0, cache.out()); err < 0) {
    return fail(nl_error("listing routes", err));
  }
  std::vector<std::string> out;
  for (auto* object = nl_cache_get_first(cache.get()); object; object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN) continue;
    auto* dst = rtnl_route_get_dst(route);
    std::string text = from_nl(dst).str() + "/" + std::to_string(dst ? nl_addr_get_prefixlen(dst) : 0);
    if (rtnl_route_get_nnexthops(route) > 0) {
      int hop_index = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0));
      char name[IFNAMSIZ + 1] = {};
      rtnl_link_i2name(links.get(), hop_index, name, sizeof name);
      text += std::string(" dev ") + name;
    }
    out.push_back(std::move(text));
  }
  return out;
}

Result<void> RouteSocket::set_rate_limit(const std::string& name, std::uint64_t rate, std::uint64_t burst) {
  constexpr std::uint64_t kMax = std::numeric_limits<int>::max();
  if (rate == 0 || rate > kMax || burst == 0 || burst > kMax) {
    return fail("rate limit on '" + name + "': the rate and burst must be 1 to " + std::to_string(kMax) + " bytes");
  }
  BERTH_TRY(int link_index, index(name));
  Qdisc qdisc(rtnl_qdisc_alloc());
  auto* tc = TC_CAST(qdisc.get());
  rtnl_tc_set_ifindex(tc, link_index);
  rtnl_tc_set_parent(tc, TC_H_ROOT);
  rtnl_tc_set_handle(tc, TC_HANDLE(1, 0));
  if (int err = rtnl_tc_set_kind(tc, "tbf"); err < 0) return fail(nl_error("tbf qdisc", err, name));
  rtnl_qdisc_tbf_set_rate(qdisc.get(), static_cast<int>(rate), static_cast<int>(burst), 0);
  if (int err = rtnl_qdisc_tbf_set_limit_by_latency(qdisc.get(), 50'000); err < 0) {
    return fail(nl_error("tbf queue limit", err, name));
  }
  if (int err = rtnl_qdisc_add(socket_, qdisc.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0) {
    return fail(nl_error("adding a tbf qdisc (" + std::to_string(rate) + " bytes/s) to", err, name));
  }
  return {};
}

Result<std::string> RouteSocket::root_qdisc(const std::string& name) {
  BERTH_TRY(int link_index, index(name));
  Cache cache;
  if (int err = rtnl_qdisc_alloc_cache(socket_, cache.out()); err < 0) return fail(nl_error("listing qdiscs", err));
  for (auto* object = nl_cache_get_first(cache.get()); object; object = nl_cache_get_next(object)) {
    auto* tc = TC_CAST(object);
    if (rtnl_tc_get_ifindex(tc) == link_index && rtnl_tc_get_parent(tc) == TC_H_ROOT) return rtnl_tc_get_kind(tc);
  }
  return std::string();
}

Result<LinkCounters> RouteSocket::counters(const std::string& name) {
  Link link;
  if (int err = rtnl_link_get_kernel(socket_, 0, name.c_str(), link.out()); err < 0) {
    return fail(nl_error("no interface", err, name));
  }
  return LinkCounters{rtnl_link_get_stat(link.get(), RTNL_LINK_RX_BYTES),
                      rtnl_link_get_stat(link.get(), RTNL_LINK_RX_PACKETS),
                      rtnl_link_get_stat(link.get(), RTNL_LINK_TX_BYTES),
                      rtnl_link_get_stat(link.get(), RTNL_LINK_TX_PACKETS),
                      rtnl_link_get_stat(link.get(), RTNL_LINK_RX_DROPPED),
                      rtnl_link_get_stat(link.get(), RTNL_LINK_TX_DROPPED)};
}

}  // namespace berth::isolators::network
