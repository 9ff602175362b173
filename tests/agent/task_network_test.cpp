#include "berth/agent/task_network.hpp"

#include <gtest/gtest.h>

#include "berth/common/resources.hpp"

namespace berth::agent {
namespace {

namespace v1 = berth::mesos::v1;
using isolators::NetworkMode;
using isolators::network::PortMapping;
using isolators::network::Protocol;

v1::TaskInfo with_resources(const std::string& text) {
  v1::TaskInfo task;
  *task.mutable_resources() = Resources::parse(text).value().to_proto();
  return task;
}

v1::TaskInfo docker(v1::ContainerInfo::DockerInfo::Network network, const std::string& resources = "cpus:1") {
  auto task = with_resources(resources);
  task.mutable_container()->set_type(v1::ContainerInfo::DOCKER);
  task.mutable_container()->mutable_docker()->set_image("busybox");
  task.mutable_container()->mutable_docker()->set_network(network);
  return task;
}

void label(v1::TaskInfo& task, const std::string& key, const std::string& value) {
  auto* added = task.mutable_labels()->add_labels();
  added->set_key(key);
  added->set_value(value);
}

TEST(TaskNetwork, HostByDefaultAndEveryDockerModeMaps) {
  EXPECT_EQ(task_network(v1::TaskInfo{})->mode, NetworkMode::host);
  EXPECT_EQ(task_network(docker(v1::ContainerInfo::DockerInfo::HOST))->mode, NetworkMode::host);
  EXPECT_EQ(task_network(docker(v1::ContainerInfo::DockerInfo::BRIDGE))->mode, NetworkMode::bridge);
  EXPECT_EQ(task_network(docker(v1::ContainerInfo::DockerInfo::NONE))->mode, NetworkMode::none);
  EXPECT_EQ(task_network(docker(v1::ContainerInfo::DockerInfo::USER)).error().what(),
            "container.docker.network: USER networks are not supported (HOST, BRIDGE or NONE)");
  v1::TaskInfo labelled;
  label(labelled, "berth.network", "none");
  EXPECT_EQ(task_network(labelled)->mode, NetworkMode::none);
  label(labelled, "berth.network", "overlay");
  EXPECT_EQ(task_network(labelled).error().what(),
            "labels[\"berth.network\"]: must be host, bridge or none, not 'overlay'");
}

TEST(TaskNetwork, PortMappingsMustUseTheTasksOwnPorts) {
  auto task = docker(v1::ContainerInfo::DockerInfo::BRIDGE, "cpus:1;ports:[31000-31002,31010-31010]");
  auto* mapping = task.mutable_container()->mutable_docker()->add_port_mappings();
  mapping->set_host_port(31001);
  mapping->set_container_port(80);
  auto* udp = task.mutable_container()->mutable_docker()->add_port_mappings();
  udp->set_host_port(31010);
  udp->set_container_port(53);
  udp->set_protocol("udp");
  auto network = task_network(task);
  ASSERT_TRUE(network) << network.error().what();
  EXPECT_EQ(network->ports, (std::vector<PortMapping>{{31001, 80, Protocol::tcp}, {31010, 53, Protocol::udp}}));
  EXPECT_EQ(port_env(task, *network), (std::vector<std::string>{"PORT0=80", "PORT1=53", "PORTS=80,53"}));

  udp->set_host_port(31005);
  EXPECT_EQ(task_network(task).error().what(),
            "container.docker.port_mappings[1].host_port: 31005 is not in the task's ports resources "
            "([31000-31002,31010])");
  udp->set_host_port(31010);
  udp->set_protocol("sctp");
  EXPECT_EQ(task_network(task).error().what(),
            "container.docker.port_mappings[1].protocol: must be tcp or udp, not 'sctp'");
  udp->set_protocol("udp");
  udp->set_container_port(70000);
  EXPECT_EQ(task_network(task).error().what(), "container.docker.port_mappings[1].container_port: 70000 is not a port");

  auto host = docker(v1::ContainerInfo::DockerInfo::HOST, "cpus:1;ports:[31000-31000]");
  *host.mutable_container()->mutable_docker()->add_port_mappings() = *mapping;
  EXPECT_EQ(task_network(host).error().what(),
            "container.docker.port_mappings: port mappings need BRIDGE networking");
}

TEST(TaskNetwork, ANetworkInfoNamedBridgeJoinsTheBridgeWithItsMappings) {
  auto task = with_resources("cpus:1;ports:[8080-8080]");
  task.mutable_container()->set_type(v1::ContainerInfo::MESOS);
  auto* info = task.mutable_container()->add_network_infos();
  info->set_name("bridge");
  auto* mapping = info->add_port_mappings();
  mapping->set_host_port(8080);
  mapping->set_container_port(80);
  auto network = task_network(task);
  ASSERT_TRUE(network) << network.error().what();
  EXPECT_EQ(network->mode, NetworkMode::bridge);
  EXPECT_EQ(network->ports, (std::vector<PortMapping>{{8080, 80, Protocol::tcp}}));
  info->set_name("calico");
  EXPECT_EQ(task_network(task).error().what(), "container.network_infos[0].name: the agent's network is 'bridge', not 'calico'");
}

TEST(TaskNetwork, HostModeTasksGetTheirPortsAsVariables) {
  auto task = with_resources("cpus:1;ports:[31000-31001,31005-31005]");
  auto network = task_network(task);
  ASSERT_TRUE(network);
  EXPECT_EQ(port_env(task, *network),
            (std::vector<std::string>{"PORT0=31000", "PORT1=31001", "PORT2=31005", "PORTS=31000,31001,31005"}));
  EXPECT_TRUE(port_env(with_resources("cpus:1"), *network).empty());
}

TEST(TaskNetwork, RateLimitsAreBytesPerSecond) {
  v1::TaskInfo task;
  label(task, "berth.egress_rate_limit", "10MB");
  label(task, "berth.ingress_rate_limit", "0");
  auto network = task_network(task);
  ASSERT_TRUE(network);
  EXPECT_EQ(network->egress_rate, 10u << 20);
  EXPECT_EQ(network->ingress_rate, 0u);
  EXPECT_EQ(*parse_bytes("512KB"), 512u * 1024);
  EXPECT_EQ(*parse_bytes("1GB"), 1u << 30);
  EXPECT_EQ(*parse_bytes("100B"), 100u);
  EXPECT_EQ(parse_bytes("10mb").error().what(), "'10mb': unknown unit 'mb' (B, KB, MB or GB)");
  EXPECT_EQ(parse_bytes("fast").error().what(), "'fast' is not a number of bytes (e.g. 1048576, 512KB, 10MB, 1GB)");
  label(task, "berth.egress_rate_limit", "-1");
  EXPECT_EQ(task_network(task).error().what(),
            "labels[\"berth.egress_rate_limit\"]: '-1' is not a number of bytes (e.g. 1048576, 512KB, 10MB, 1GB)");
}

}  // namespace
}  // namespace berth::agent
