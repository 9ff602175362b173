#include "berth/isolators/network.hpp"

#include <fcntl.h>
#include <sched.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/netns.hpp"
#include "berth/isolators/cgroupfs.hpp"

namespace berth::isolators {

namespace fs = std::filesystem;
using network::Ipv4Address;
using network::RouteSocket;

std::string_view to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::host: return "host";
    case NetworkMode::bridge: return "bridge";
    case NetworkMode::none: return "none";
  }
  return "?";
}

Result<void> check_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15) return fail("interface name '" + name + "' must have 1 to 15 characters");
  if (name == "." || name == "..") return fail("interface name '" + name + "' is reserved");
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c > '~') {
      return fail("interface name '" + name + "' has a character interfaces cannot have ('" + std::string(1, c) + "')");
    }
  }
  return {};
}

std::string host_interface_for(const std::string& container_id) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : container_id) hash = (hash ^ c) * 1099511628211ull;
  return fmt::format("bv{:012x}", hash & 0xffffffffffffull);
}

std::uint64_t burst_for(std::uint64_t rate) { return std::max<std::uint64_t>(rate / 10, 16 * 1024); }

namespace {

bool absent(const Error& error) { return error.code() == ENODEV; }

std::string hostname_of(const std::string& container_id) { return container_id.substr(0, 12); }

// The container's files need no fsync: they are made again for a new
// container, and one that runs holds them mounted.
Result<void> write_plain(const fs::path& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_sys("open", path.string());
  return files::write_all(fd.get(), text, path);
}

}  // namespace

Result<std::unique_ptr<NetworkIsolator>> NetworkIsolator::create(NetworkOptions options) {
  BERTH_TRY_VOID(with_context(check_interface_name(options.bridge), "--network_bridge"));
  BERTH_TRY(auto ipam, network::Ipam::open(options.state_dir / "leases", options.subnet));
  BERTH_TRY(auto host, RouteSocket::open());
  const auto& bridge = options.bridge;
  network::InterfaceAddress gateway{ipam->gateway(), options.subnet.prefix};
  BERTH_TRY(bool exists, host.exists(bridge));
  if (!exists) {
    BERTH_TRY_VOID(host.add_bridge(bridge));
    log::info("Created bridge {} for containers of {}", bridge, options.subnet.str());
  }
  BERTH_TRY(auto addresses, host.addresses(bridge));
  bool has_gateway = false;
  for (const auto& address : addresses) {
    if (address.address == gateway.address && address.prefix == gateway.prefix) {
      has_gateway = true;
    } else {
      return fail("bridge " + bridge + " has address " + address.address.str() + "/" + std::to_string(address.prefix) +
                  ", not the subnet's " + gateway.address.str() + "/" + std::to_string(gateway.prefix) +
                  " (--network_cidr " + options.subnet.str() + ")");
    }
  }
  if (!has_gateway) BERTH_TRY_VOID(host.add_address(bridge, gateway));
  BERTH_TRY_VOID(host.set_up(bridge));
  // Containers' traffic is routed through the host; a mapping reached at
  // 127.0.0.1 is routed into the bridge.
  BERTH_TRY_VOID(cgroupfs::write_file("/proc/sys/net/ipv4/ip_forward", "1"));
  BERTH_TRY_VOID(cgroupfs::write_file("/proc/sys/net/ipv4/conf/" + bridge + "/route_localnet", "1"));
  BERTH_TRY(auto nat, network::NatRules::create());
  BERTH_TRY_VOID(nat->install(bridge, options.subnet));
  BERTH_TRY_VOID(files::make_dirs(options.state_dir / "containers"));
  if (!options.make_namespace) {
    options.make_namespace = []() -> Result<UniqueFd> {
      BERTH_TRY(auto home, netns::current());
      return netns::make(home.get());
    };
  }
  BERTH_TRY(auto reaper, network::LinkReaper::create());
  return std::unique_ptr<NetworkIsolator>(
      new NetworkIsolator(std::move(options), std::move(host), std::move(ipam), std::move(nat), std::move(reaper)));
}

fs::path NetworkIsolator::files_dir(const std::string& container_id) const {
  return options_.state_dir / "containers" / container_id;
}

Result<void> NetworkIsolator::recover(const std::vector<std::string>& known_container_ids) {
  std::set<std::string> known(known_container_ids.begin(), known_container_ids.end());
  for (const auto& lease : ipam_->leases()) {
    if (known.contains(lease.container_id)) {
      // install() started the table empty.
      BERTH_TRY_VOID(with_context(nat_->add(lease.address, lease.ports), "restoring the port mappings of " +
                                                                             lease.container_id));
      continue;
    }
    log::info("Network: releasing {} of container {}, which is gone", lease.address.str(), lease.container_id);
    BERTH_TRY_VOID(cleanup(lease.container_id));
  }
  // A host end with no lease: a container whose cleanup was cut short.
  std::set<std::string> leased;
  for (const auto& lease : ipam_->leases()) leased.insert(lease.host_interface);
  BERTH_TRY(auto links, host_.links());
  for (const auto& link : links) {
    if (link.size() == 14 && link.starts_with("bv") && !leased.contains(link)) {
      log::info("Network: removing interface {}, which belongs to no container", link);
      if (auto deleted = host_.delete_link(link); !deleted && !absent(deleted.error())) return fail(deleted.error());
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.state_dir / "containers", ec)) {
    if (!known.contains(entry.path().filename().string())) BERTH_TRY_VOID(files::remove_all(entry.path()));
  }
  return {};
}

Result<void> NetworkIsolator::connect(const ContainerConfig& config, int netns_fd, RouteSocket& inside) {
  const auto& id = config.container_id;
  const auto& net = config.network;
  auto veth = host_interface_for(id);
  BERTH_TRY(auto lease, ipam_->allocate(id, veth, net.ports));
  BERTH_TRY_VOID(host_.add_veth(veth, "eth0", netns_fd));
  BERTH_TRY_VOID(host_.set_up(veth, options_.bridge));
  BERTH_TRY_VOID(inside.add_address("eth0", {lease.address, options_.subnet.prefix}));
  BERTH_TRY_VOID(inside.set_up("eth0"));
  BERTH_TRY_VOID(inside.add_default_route("eth0", ipam_->gateway()));
  auto egress = net.egress_rate.value_or(options_.egress_rate);
  auto ingress = net.ingress_rate.value_or(options_.ingress_rate);
  if (egress > 0) BERTH_TRY_VOID(with_context(inside.set_rate_limit("eth0", egress, burst_for(egress)), "egress limit"));
  if (ingress > 0) {
    BERTH_TRY_VOID(with_context(host_.set_rate_limit(veth, ingress, burst_for(ingress)), "ingress limit"));
  }
  BERTH_TRY_VOID(with_context(nat_->add(lease.address, lease.ports), "port mappings"));
  return {};
}

Result<void> NetworkIsolator::write_files(const std::string& container_id, const fs::path& dir,
                                          const network::Lease* lease) {
  auto hostname = hostname_of(container_id);
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  hosts += (lease ? lease->address.str() : std::string("127.0.1.1")) + "\t" + hostname + "\n";
  BERTH_TRY_VOID(files::make_dirs(dir));
  BERTH_TRY_VOID(write_plain(dir / "hosts", hosts));
  BERTH_TRY_VOID(write_plain(dir / "hostname", hostname + "\n"));
  if (lease) {
    auto resolv = files::read(options_.resolv_conf);
    BERTH_TRY_VOID(write_plain(dir / "resolv.conf", resolv ? *resolv : std::string()));
  }
  return {};
}

Result<LaunchInfo> NetworkIsolator::prepare(const ContainerConfig& config) {
  const auto& net = config.network;
  if (net.mode == NetworkMode::host) {
    if (!net.ports.empty()) return fail("port mappings need bridge networking (the task shares the host's ports)");
    return LaunchInfo{};
  }
  if (net.mode == NetworkMode::none && !net.ports.empty()) {
    return fail("port mappings need bridge networking (network mode none has loopback only)");
  }
  const auto& id = config.container_id;
  if (!ids::is_safe_path_component(id)) return fail("unsafe container id '" + id + "'");
  BERTH_TRY(auto fd, with_context(options_.make_namespace(), "network namespace"));
  // One visit to the namespace: its sysctls (which /proc/sys/net shows for
  // the namespace of the thread that opens them) and a netlink socket that
  // stays there.
  BERTH_TRY(auto inside, [&]() -> Result<RouteSocket> {
    BERTH_TRY(auto entered, netns::Enter::into(fd.get()));
    // As Docker: in a network of its own, any user may bind a low port and
    // ping (the host's settings are not the container's business).
    BERTH_TRY_VOID(cgroupfs::write_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"));
    BERTH_TRY_VOID(cgroupfs::write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"));
    return RouteSocket::open();
  }());
  BERTH_TRY_VOID(inside.set_up("lo"));
  if (net.mode == NetworkMode::bridge) BERTH_TRY_VOID(connect(config, fd.get(), inside));
  auto dir = files_dir(id);
  BERTH_TRY_VOID(write_files(id, dir, ipam_->find(id)));
  LaunchInfo info;
  info.namespaces = CLONE_NEWNET;
  ContainerNetwork container{"/proc/self/fd/" + std::to_string(fd.get()), hostname_of(id), {}};
  container.files.push_back({"/etc/hosts", dir / "hosts"});
  container.files.push_back({"/etc/hostname", dir / "hostname"});
  if (net.mode == NetworkMode::bridge) container.files.push_back({"/etc/resolv.conf", dir / "resolv.conf"});
  info.network = std::move(container);
  namespaces_[id] = std::move(fd);
  return info;
}

Result<void> NetworkIsolator::isolate(const std::string& container_id, pid_t /*pid*/) {
  namespaces_.erase(container_id);  // the container holds its namespace now
  return {};
}

Result<Usage> NetworkIsolator::usage(const std::string& container_id) {
  Usage usage;
  const auto* lease = ipam_->find(container_id);
  if (!lease) return usage;
  BERTH_TRY(auto counters, host_.counters(lease->host_interface));
  // The host end receives what the container sends.
  usage.net_tx_bytes = counters.rx_bytes;
  usage.net_tx_packets = counters.rx_packets;
  usage.net_rx_bytes = counters.tx_bytes;
  usage.net_rx_packets = counters.tx_packets;
  usage.net_tx_dropped = counters.rx_dropped;
  usage.net_rx_dropped = counters.tx_dropped;
  return usage;
}

Result<void> NetworkIsolator::cleanup(const std::string& container_id) {
  namespaces_.erase(container_id);
  Result<void> result;
  auto keep_first = [&](Result<void> step) {
    if (!step && result) result = std::move(step);
  };
  if (const auto* lease = ipam_->find(container_id)) {
    // The host end is deleted off this thread; one left by a crash meanwhile
    // has no lease, and recover() deletes it.
    keep_first(nat_->remove(lease->ports));
    if (result) {
      reaper_->remove(lease->host_interface);
      keep_first(ipam_->release(container_id));
    }
  }
  if (ids::is_safe_path_component(container_id)) keep_first(files::remove_all(files_dir(container_id)));
  return result;
}

}  // namespace berth::isolators
