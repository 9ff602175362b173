#include "berth/agent/task_network.hpp"

#include <charconv>

#include "berth/common/resources.hpp"

namespace berth::agent {

namespace v1 = mesos::v1;
using isolators::NetworkMode;

Result<std::uint64_t> parse_bytes(std::string_view text) {
  auto quoted = "'" + std::string(text) + "'";
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end == text.data()) {
    return fail(quoted + " is not a number of bytes (e.g. 1048576, 512KB, 10MB, 1GB)");
  }
  std::string_view unit(end, text.data() + text.size() - end);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "KB") scale = 1ull << 10;
  if (unit == "MB") scale = 1ull << 20;
  if (unit == "GB") scale = 1ull << 30;
  if (scale == 0) return fail(quoted + ": unknown unit '" + std::string(unit) + "' (B, KB, MB or GB)");
  if (value > UINT64_MAX / scale) return fail(quoted + " is too large");
  return value * scale;
}

namespace {

Result<NetworkMode> mode_named(const std::string& name, const std::string& field) {
  if (name == "host") return NetworkMode::host;
  if (name == "bridge") return NetworkMode::bridge;
  if (name == "none") return NetworkMode::none;
  return fail(field + ": must be host, bridge or none, not '" + name + "'");
}

std::string describe(const std::vector<Resources::Range>& ranges) {
  std::string out;
  for (const auto& [first, last] : ranges) {
    out += (out.empty() ? "" : ",") + std::to_string(first) + (first == last ? "" : "-" + std::to_string(last));
  }
  return out.empty() ? "none" : "[" + out + "]";
}

// One mapping, its host port within the task's `ports`.
template <typename Mapping>
Result<isolators::network::PortMapping> port_mapping(const Mapping& mapping, const std::vector<Resources::Range>& ports,
                                                     const std::string& field) {
  const auto& protocol = mapping.protocol();
  if (!protocol.empty() && protocol != "tcp" && protocol != "udp") {
    return fail(field + ".protocol: must be tcp or udp, not '" + protocol + "'");
  }
  if (mapping.container_port() == 0 || mapping.container_port() > 65535) {
    return fail(field + ".container_port: " + std::to_string(mapping.container_port()) + " is not a port");
  }
  auto host_port = mapping.host_port();
  bool offered = std::ranges::any_of(ports, [&](const auto& r) { return host_port >= r.first && host_port <= r.second; });
  if (host_port == 0 || host_port > 65535 || !offered) {
    return fail(field + ".host_port: " + std::to_string(host_port) + " is not in the task's ports resources (" +
                describe(ports) + ")");
  }
  return isolators::network::PortMapping{
      static_cast<std::uint16_t>(host_port), static_cast<std::uint16_t>(mapping.container_port()),
      protocol == "udp" ? isolators::network::Protocol::udp : isolators::network::Protocol::tcp};
}

}  // namespace

Result<isolators::TaskNetwork> task_network(const v1::TaskInfo& task) {
  isolators::TaskNetwork network;
  for (const auto& label : task.labels().labels()) {
    auto field = "labels[\"" + label.key() + "\"]";
    if (label.key() == "berth.network") {
      BERTH_TRY(network.mode, mode_named(label.value(), field));
    }
    if (label.key() == "berth.egress_rate_limit") {
      BERTH_TRY(network.egress_rate, with_context(parse_bytes(label.value()), field));
    }
    if (label.key() == "berth.ingress_rate_limit") {
      BERTH_TRY(network.ingress_rate, with_context(parse_bytes(label.value()), field));
    }
  }
  if (!task.has_container()) return network;
  const auto& container = task.container();
  auto resources = Resources::from_proto(task.resources());
  if (!resources) return fail(std::move(resources).error().context("resources"));
  auto ports = resources->ranges("ports");
  // DockerInfo's and NetworkInfo's mappings have the same fields.
  auto add_mappings = [&](const auto& mappings, const std::string& where) -> Result<void> {
    for (int i = 0; i < mappings.size(); ++i) {
      BERTH_TRY(auto mapping, port_mapping(mappings.Get(i), ports, where + "[" + std::to_string(i) + "]"));
      network.ports.push_back(mapping);
    }
    return {};
  };
  if (container.network_infos_size() > 0) {
    if (container.network_infos_size() > 1) return fail("container.network_infos: a container joins one network");
    const auto& info = container.network_infos(0);
    if (info.name() != kBridgeNetwork) {
      return fail("container.network_infos[0].name: the agent's network is '" + std::string(kBridgeNetwork) +
                  "', not '" + info.name() + "'");
    }
    network.mode = NetworkMode::bridge;
    BERTH_TRY_VOID(add_mappings(info.port_mappings(), "container.network_infos[0].port_mappings"));
  }
  if (!container.has_docker()) return network;
  const auto& docker = container.docker();
  switch (docker.network()) {
    case v1::ContainerInfo::DockerInfo::HOST: network.mode = NetworkMode::host; break;
    case v1::ContainerInfo::DockerInfo::BRIDGE: network.mode = NetworkMode::bridge; break;
    case v1::ContainerInfo::DockerInfo::NONE: network.mode = NetworkMode::none; break;
    default: return fail("container.docker.network: USER networks are not supported (HOST, BRIDGE or NONE)");
  }
  if (docker.port_mappings_size() > 0 && network.mode != NetworkMode::bridge) {
    return fail("container.docker.port_mappings: port mappings need BRIDGE networking");
  }
  BERTH_TRY_VOID(add_mappings(docker.port_mappings(), "container.docker.port_mappings"));
  return network;
}

std::vector<std::string> port_env(const v1::TaskInfo& task, const isolators::TaskNetwork& network) {
  std::vector<std::string> out;
  auto add = [&](std::uint64_t port) { out.push_back("PORT" + std::to_string(out.size()) + "=" + std::to_string(port)); };
  if (network.mode == NetworkMode::bridge) {
    for (const auto& mapping : network.ports) add(mapping.container_port);
  } else if (network.mode == NetworkMode::host) {
    auto resources = Resources::from_proto(task.resources());
    if (!resources) return out;
    for (const auto& [first, last] : resources->ranges("ports")) {
      for (auto port = first; port <= last && out.size() < 1024; ++port) add(port);
    }
  }
  if (!out.empty()) {
    std::string all;
    for (const auto& variable : out) all += (all.empty() ? "" : ",") + variable.substr(variable.find('=') + 1);
    out.push_back("PORTS=" + all);
  }
  return out;
}

}  // namespace berth::agent
