#pragma once
// The network isolator: host, bridge and none modes (see NetworkMode).
//
// A bridge-mode container gets, before it starts:
//   - a fresh network namespace (from `make_namespace`, e.g. a pool), with
//     loopback up and `eth0`, one end of a veth pair whose other end
//     (bv<hash>) is enslaved to the agent's bridge;
//   - an address leased from the subnet (Ipam, persisted), the bridge's
//     address as default gateway, and egress masqueraded (NatRules);
//   - its host ports mapped to container ports (TCP and UDP), for traffic
//     from other hosts and from the host itself;
//   - token-bucket limits: egress on eth0 inside, ingress on the host end;
//   - /etc/hosts, /etc/hostname and /etc/resolv.conf of its own;
//   - as Docker sets them, ip_unprivileged_port_start=0 and a ping_group_range
//     of every group, so that a non-root task may listen on port 80 and ping.
// A none-mode container gets the namespace with loopback only and the files.
// Everything is made through netlink and libnftables; nothing is shelled out.
//
// The agent's netns holds: the bridge (made if missing, with the subnet's
// first address), net.ipv4.ip_forward=1 and route_localnet on the bridge
// (so 127.0.0.1:<host port> reaches a mapping), and the `ip berth` table.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/common/fd.hpp"
#include "berth/isolators/isolator.hpp"
#include "berth/isolators/network/ipam.hpp"
#include "berth/isolators/network/ipv4.hpp"
#include "berth/isolators/network/link_reaper.hpp"
#include "berth/isolators/network/nat_rules.hpp"
#include "berth/isolators/network/netlink.hpp"

namespace berth::isolators {

struct NetworkOptions {
  std::filesystem::path state_dir;  // leases/ and one directory of files per container
  std::string bridge = "berth0";
  network::Ipv4Cidr subnet = {{0xAC1F0000}, 16};  // 172.31.0.0/16
  // Per-container defaults in bytes per second; 0: unlimited.
  std::uint64_t egress_rate = 0;
  std::uint64_t ingress_rate = 0;
  // A fresh, never-entered network namespace; unset: made on the calling thread.
  std::function<Result<UniqueFd>()> make_namespace = {};
  std::filesystem::path resolv_conf = "/etc/resolv.conf";  // copied into bridge-mode containers
};

// Checks a bridge name as the kernel takes interface names.
Result<void> check_interface_name(const std::string& name);
// The host end of a container's veth pair: "bv" and 12 hex digits of a hash of its id.
std::string host_interface_for(const std::string& container_id);
// The burst of a token bucket of `rate` bytes per second: a tenth of a second, 16 KiB at least.
std::uint64_t burst_for(std::uint64_t rate);

class NetworkIsolator final : public Isolator {
 public:
  static Result<std::unique_ptr<NetworkIsolator>> create(NetworkOptions options);

  std::string_view name() const override { return "network"; }
  Result<void> recover(const std::vector<std::string>& known_container_ids) override;
  Result<LaunchInfo> prepare(const ContainerConfig& config) override;
  Result<void> isolate(const std::string& container_id, pid_t pid) override;
  Result<Usage> usage(const std::string& container_id) override;
  Result<void> cleanup(const std::string& container_id) override;

  const network::Ipam& ipam() const { return *ipam_; }
  // Waits until the host ends of cleaned-up containers are deleted (cleanup
  // hands them to a thread: the kernel takes tens of milliseconds each).
  void settle() { reaper_->drain(); }
  const NetworkOptions& options() const { return options_; }

 private:
  NetworkIsolator(NetworkOptions options, network::RouteSocket host, std::unique_ptr<network::Ipam> ipam,
                  std::unique_ptr<network::NatRules> nat, std::unique_ptr<network::LinkReaper> reaper)
      : options_(std::move(options)),
        host_(std::move(host)),
        ipam_(std::move(ipam)),
        nat_(std::move(nat)),
        reaper_(std::move(reaper)) {}
  Result<void> connect(const ContainerConfig& config, int netns_fd, network::RouteSocket& inside);
  Result<void> write_files(const std::string& container_id, const std::filesystem::path& dir,
                           const network::Lease* lease);
  std::filesystem::path files_dir(const std::string& container_id) const;

  NetworkOptions options_;
  network::RouteSocket host_;
  std::unique_ptr<network::Ipam> ipam_;
  std::unique_ptr<network::NatRules> nat_;
  std::unique_ptr<network::LinkReaper> reaper_;
  std::map<std::string, UniqueFd> namespaces_;  // held from prepare until the container joined
};

}  // namespace berth::isolators
