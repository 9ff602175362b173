// Tasks on the agent's bridge, end to end: a real master, agent and `berth
// run`, all inside a network namespace the test makes (the "test host"),
// with a second host joined to it by a veth pair. Nothing of the machine's
// own network is touched: the bridge, addresses, routes and nftables table
// live and die with the test host's namespace.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>

#include "berth/common/netns.hpp"
#include "support/cluster.hpp"
#include "support/registry.hpp"
#include "support/root.hpp"
#include "support/test_host_network.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHostAddress = TestHostNetwork::kHostAddress;

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    ASSERT_NO_FATAL_FAILURE(network_.enter(TestHostNetwork::SecondHost::linked));
    start();
  }

  virtual void start(std::vector<std::string> flags = {}) {
    flags.push_back("--isolation=cgroups/cpu,cgroups/mem,cgroups/pids,network/bridge");
    flags.push_back("--network_cidr=10.88.0.0/24");
    cluster_ = std::make_unique<Cluster>(Cluster::Options{
        .master_flags = {},
        .agent_flags = std::move(flags),
        .agent_master = {},
        .agent_resources = "cpus:2;mem:2048;ports:[31000-31009]"});
    cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }

  void TearDown() override {
    if (cluster_ && !::testing::Test::IsSkipped()) {
      cluster_->check_no_leaks();
      // The agent is gone; what it made for containers must be too.
      EXPECT_EQ(network_.bridge_interfaces(), std::vector<std::string>{});
    }
    cluster_.reset();
    network_.leave();
  }

  // Connects to the test host's port from the second host and reads what comes back.
  std::string fetch_from_outside(std::uint16_t port, std::chrono::milliseconds timeout = 20s) {
    std::string answer;
    wait_until([&] {
      UniqueFd fd;
      {
        auto entered = netns::Enter::into(network_.outside());
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      }
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port);
      ::inet_pton(AF_INET, kHostAddress, &address.sin_addr);
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return false;
      timeval wait{2, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
      char buffer[256];
      answer.clear();
      for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
      return !answer.empty();
    }, timeout, 200ms);
    return answer;
  }

  std::size_t leases() {
    auto dir = cluster_->dir() / "agent/network/leases";
    return std::filesystem::exists(dir) ? std::distance(std::filesystem::directory_iterator(dir), {}) : 0;
  }

  TestHostNetwork network_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(NetworkTest, ABridgeTaskHasItsOwnAddressAndServesThroughItsPortMapping) {
  auto log = cluster_->dir() / "run.log";
  auto run = cluster_->run_async(
      {"--network=bridge", "--publish=31005:8080", "--shell", "--",
       "cat /proc/net/dev | cut -d: -f1 | tr -d ' ' | grep -v -e Inter -e face | sort | tr '\\n' ' '; echo; "
       "echo PORT0=$PORT0 host=$(hostname); grep -c \"$(hostname)\" /etc/hosts; "
       "echo served | busybox nc -l -p 8080"},
      log);
  EXPECT_EQ(fetch_from_outside(31005), "served\n") << read_file(log) << cluster_->agent_log();
  ASSERT_EQ(run.wait(30s), 0) << read_file(log);
  auto out = read_file(log);
  EXPECT_NE(out.find("eth0 lo \n"), std::string::npos) << out;
  EXPECT_NE(out.find("PORT0=8080 host="), std::string::npos) << out;
  EXPECT_EQ(leases(), 0u) << "the lease went with the task";
}

// With the agent's default capabilities and seccomp profile, the usual
// tools work in a container's own network namespace.
TEST_F(NetworkTest, NetworkingToolsWorkInsideTheContainersOwnNamespace) {
  auto ran = cluster_->run(
      {"--network=bridge", "--shell", "--",
       "echo sysfs: $(ls /sys/class/net); busybox ip -4 addr show dev eth0; busybox ip route; "
       "busybox ping -c 1 -W 5 10.99.0.2; "
       "busybox ip link set eth0 mtu 1400 || echo 'no CAP_NET_ADMIN'"});
  ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err << cluster_->agent_log();
  EXPECT_NE(ran.out.find("inet 10.88.0."), std::string::npos) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("default via 10.88.0.1 dev eth0"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("sysfs: eth0 lo\n"), std::string::npos) << "a sysfs of its own network: " << ran.out;
  EXPECT_NE(ran.out.find("1 packets received"), std::string::npos) << "ping through the masquerade: " << ran.out;
  EXPECT_NE(ran.out.find("no CAP_NET_ADMIN"), std::string::npos) << "Docker's default set has no NET_ADMIN";
  EXPECT_NE(ran.err.find("ip: SIOCSIFMTU: Operation not permitted"), std::string::npos) << ran.err;
}

TEST_F(NetworkTest, AHostTaskGetsTheHostPortsItWasGiven) {
  auto ran = cluster_->run({"--host_port=31004", "--host_port=31008", "--shell", "--",
                            "echo $PORT0 $PORT1 $PORTS; cut -d: -f1 /proc/net/dev | tr -d ' ' | grep -c out0"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err << cluster_->agent_log();
  EXPECT_EQ(ran.out, "31004 31008 31004,31008\n1\n") << "the host's network, with its ports";
}

TEST_F(NetworkTest, ANoneTaskHasLoopbackOnly) {
  auto ran = cluster_->run({"--network=none", "--shell", "--", "cut -d: -f1 /proc/net/dev | tr -d ' ' | tail -n +3"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err << cluster_->agent_log();
  EXPECT_EQ(ran.out, "lo\n");
}

TEST_F(NetworkTest, PortMappingsOutsideTheOfferOrOfAnUnknownProtocolAreRefused) {
  auto outside = cluster_->run({"--network=bridge", "--publish=40000:80", "--offer_timeout=2", "--", "true"});
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_NE(outside.err.find("ports:[40000]"), std::string::npos) << outside.err;
  auto udp = cluster_->run({"--network=bridge", "--publish=31001:53/sctp", "--", "true"});
  EXPECT_NE(udp.exit_code, 0);
  EXPECT_NE(udp.err.find("--publish '31001:53/sctp': the protocol must be tcp or udp"), std::string::npos) << udp.err;
}

TEST_F(NetworkTest, AfterAnAgentRestartARunningTaskKeepsItsLeaseAndMapping) {
  auto log = cluster_->dir() / "run.log";
  auto run = cluster_->run_async({"--network=bridge", "--publish=31002:8080", "--shell", "--",
                                  "while true; do echo kept | busybox nc -l -p 8080; done"},
                                 log);
  ASSERT_EQ(fetch_from_outside(31002), "kept\n") << read_file(log) << cluster_->agent_log();
  ASSERT_EQ(leases(), 1u);
  cluster_->stop_agent(SIGKILL);
  cluster_->start_agent();
  ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  EXPECT_EQ(leases(), 1u);
  EXPECT_EQ(fetch_from_outside(31002), "kept\n") << cluster_->agent_log();
  // Its traffic is counted, under Mesos's names and as metrics.
  auto containers = boost::json::parse(http_get(cluster_->agent_port(), "/containers").body());
  ASSERT_EQ(containers.as_array().size(), 1u) << containers;
  const auto& statistics = containers.as_array()[0].at("statistics").as_object();
  EXPECT_GT(statistics.at("net_tx_bytes").to_number<double>(), 0) << statistics;
  EXPECT_GT(statistics.at("net_rx_packets").to_number<double>(), 0) << statistics;
  EXPECT_NE(http_get(cluster_->agent_port(), "/metrics").body().find("berth_container_network_transmit_bytes_total{"),
            std::string::npos);
  run.signal(SIGINT);  // berth run kills its task
  EXPECT_TRUE(run.wait(30s));
  EXPECT_TRUE(wait_until([&] { return leases() == 0; }, 10s)) << cluster_->agent_log();
}

// A DOCKER container with BRIDGE networking and a port mapping, from an image
// pulled from a registry on the test host's loopback.
class NetworkImageTest : public NetworkTest {
 protected:
  void start(std::vector<std::string> flags) override {
    registry_.emplace();
    images_.emplace(*registry_);
    flags.push_back("--insecure_registries=" + registry_->address());
    NetworkTest::start(std::move(flags));
  }
  void TearDown() override {
    NetworkTest::TearDown();
    images_.reset();
    registry_.reset();
  }
  std::optional<TestRegistry> registry_;
  std::optional<TestImages> images_;
};

TEST_F(NetworkImageTest, ADockerBridgeContainerServesThroughItsPortMapping) {
  const auto& image = images_->busybox(ManifestFormat::docker);
  auto log = cluster_->dir() / "run.log";
  auto run = cluster_->run_async({"--image=" + image.reference(), "--network=bridge", "--publish=31007:80", "--",
                                  "/bin/sh", "-c", "echo from-image $(cat /etc/hostname) | /bin/busybox nc -l -p 80"},
                                 log);
  auto answer = fetch_from_outside(31007, 60s);
  EXPECT_TRUE(answer.starts_with("from-image ")) << answer << read_file(log) << cluster_->agent_log();
  EXPECT_EQ(run.wait(30s), 0) << read_file(log);
}

}  // namespace
}  // namespace berth::testing
