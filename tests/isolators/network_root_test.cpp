// The network isolator against the real kernel: bridges, veth pairs,
// addresses, routes, nftables NAT and tbf qdiscs. Every test builds its own
// "test host" network namespace (and a second host joined to it by a veth
// pair) and works only there: the machine's own interfaces, routes and
// firewall are never touched.
//
// A container here is what the isolator prepares: the network namespace it
// hands to the launcher. Traffic is sent from sockets opened inside those
// namespaces (a socket stays in the namespace it was made in), so each test
// needs no process per container; the agent's end-to-end tests run real
// tasks.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <set>
#include <thread>

#include "berth/common/netns.hpp"
#include "berth/isolators/network.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"
#include "support/test_host_network.hpp"

namespace berth::isolators {
namespace {

using network::Ipv4Address;
using network::PortMapping;
using network::Protocol;
using network::RouteSocket;
using Clock = std::chrono::steady_clock;

constexpr const char* kSubnet = "10.88.0.0/24";
constexpr const char* kHostAddress = berth::testing::TestHostNetwork::kHostAddress;
constexpr const char* kOutsideAddress = berth::testing::TestHostNetwork::kOutsideAddress;

sockaddr_in endpoint(const std::string& ip, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  return address;
}

// A socket made inside the network namespace `netns` (-1: here).
UniqueFd socket_in(int netns, int type) {
  std::optional<netns::Enter> entered;
  if (netns >= 0) {
    auto into = netns::Enter::into(netns);
    if (!into) ADD_FAILURE() << into.error().what();
    entered.emplace(std::move(*into));
  }
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  return fd;
}

UniqueFd listener_in(int netns, std::uint16_t port, int type = SOCK_STREAM) {
  auto fd = socket_in(netns, type);
  auto address = endpoint("0.0.0.0", port);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(::listen(fd.get(), 16), 0);
  }
  return fd;
}

std::string peer_of(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return text;
}

// Serves one TCP connection: reads to EOF, answers "<peer address> <what it read>".
std::future<std::string> serve_once(const UniqueFd& listener) {
  return std::async(std::launch::async, [fd = listener.get()] {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 5000) != 1) return std::string("no connection");
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    UniqueFd connection(::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC));
    std::string got;
    char buffer[4096];
    for (ssize_t n; (n = ::read(connection.get(), buffer, sizeof buffer)) > 0;) got.append(buffer, n);
    auto answer = peer_of(peer) + " " + got;
    (void)!::write(connection.get(), answer.data(), answer.size());
    return peer_of(peer);
  });
}

// Connects from namespace `netns` and returns the answer ("" when unreachable).
std::string exchange(int netns, const std::string& ip, std::uint16_t port, const std::string& message) {
  auto fd = socket_in(netns, SOCK_STREAM);
  auto address = endpoint(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return "";
  (void)!::write(fd.get(), message.data(), message.size());
  ::shutdown(fd.get(), SHUT_WR);
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
  return answer;
}

class NetworkIsolatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    // With the second host, on a link of its own.
    ASSERT_NO_FATAL_FAILURE(network_.enter(berth::testing::TestHostNetwork::SecondHost::linked));
    isolator_ = make_isolator();
    ASSERT_NE(isolator_, nullptr);
  }

  void TearDown() override {
    isolator_.reset();
    network_.leave();
  }

  std::unique_ptr<NetworkIsolator> make_isolator(const char* subnet = kSubnet) {
    NetworkOptions options;
    options.state_dir = dir_.path() / "network";
    options.bridge = "berth0";
    options.subnet = *network::Ipv4Cidr::parse(subnet);
    options.resolv_conf = dir_.path() / "resolv.conf";
    berth::testing::write_text(options.resolv_conf, "nameserver 10.99.0.53\n");
    auto made = NetworkIsolator::create(options);
    if (!made) {
      ADD_FAILURE() << made.error().what();
      return nullptr;
    }
    return std::move(*made);
  }

  // Prepares a container and returns its network namespace.
  UniqueFd prepare(const std::string& id, TaskNetwork network = {.mode = NetworkMode::bridge}) {
    auto info = isolator_->prepare({.container_id = id, .network = network});
    if (!info) {
      ADD_FAILURE() << info.error().what();
      return UniqueFd();
    }
    EXPECT_EQ(info->namespaces, CLONE_NEWNET);
    UniqueFd fd(::open(info->network->namespace_path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(isolator_->isolate(id, 1));
    return fd;
  }

  std::string address_of(const std::string& id) { return isolator_->ipam().find(id)->address.str(); }

  // What is left of containers in the test host: host ends, leases, mappings, files.
  void expect_nothing_left() {
    isolator_->settle();
    EXPECT_EQ(network_.bridge_interfaces(), std::vector<std::string>{});
    EXPECT_TRUE(isolator_->ipam().leases().empty());
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "network/leases"));
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "network/containers"));
    auto nat = network::NatRules::create();
    ASSERT_TRUE(nat);
    auto mappings = (*nat)->mappings();
    ASSERT_TRUE(mappings) << mappings.error().what();
    EXPECT_TRUE(mappings->empty());
    auto routes = network_.host().routes();
    ASSERT_TRUE(routes);
    EXPECT_EQ(std::set<std::string>(routes->begin(), routes->end()),
              (std::set<std::string>{"10.88.0.0/24 dev berth0", "10.99.0.0/24 dev out0"}));
  }

  berth::testing::TempDir dir_;
  berth::testing::TestHostNetwork network_;
  std::unique_ptr<NetworkIsolator> isolator_;
};

TEST_F(NetworkIsolatorTest, BridgeContainersHaveAnAddressARouteAndReachEachOther) {
  auto a = prepare("a");
  auto b = prepare("b");
  ASSERT_TRUE(a && b);
  auto inside = RouteSocket::open_in(a.get());
  ASSERT_TRUE(inside);
  auto addresses = inside->addresses("eth0");
  ASSERT_TRUE(addresses);
  ASSERT_EQ(addresses->size(), 1u);
  EXPECT_EQ(addresses->front().address.str(), address_of("a"));
  EXPECT_EQ(addresses->front().prefix, 24);
  auto routes = inside->routes();
  ASSERT_TRUE(routes);
  EXPECT_EQ(std::set<std::string>(routes->begin(), routes->end()),
            (std::set<std::string>{"0.0.0.0/0 dev eth0", "10.88.0.0/24 dev eth0"}));

  auto listener = listener_in(a.get(), 7000);
  auto served = serve_once(listener);
  EXPECT_EQ(exchange(b.get(), address_of("a"), 7000, "ping"), address_of("b") + " ping");
  EXPECT_EQ(served.get(), address_of("b")) << "containers on one bridge see each other's own addresses";

  auto files = dir_.path() / "network/containers/a";
  EXPECT_EQ(berth::testing::slurp(files / "resolv.conf"), "nameserver 10.99.0.53\n");
  EXPECT_NE(berth::testing::slurp(files / "hosts").find(address_of("a") + "\ta\n"), std::string::npos);
  ASSERT_TRUE(isolator_->cleanup("a"));
  ASSERT_TRUE(isolator_->cleanup("b"));
  expect_nothing_left();
}

TEST_F(NetworkIsolatorTest, EgressToAnotherHostIsMasqueraded) {
  auto c = prepare("c");
  ASSERT_TRUE(c);
  auto listener = listener_in(network_.outside(), 7001);
  auto served = serve_once(listener);
  EXPECT_EQ(exchange(c.get(), kOutsideAddress, 7001, "hello"), std::string(kHostAddress) + " hello");
  EXPECT_EQ(served.get(), kHostAddress) << "the second host sees the test host, not the container";
  ASSERT_TRUE(isolator_->cleanup("c"));
}

TEST_F(NetworkIsolatorTest, TcpPortMappingsAreReachableFromTheHostAndFromAnotherHost) {
  auto web = prepare("web", {.mode = NetworkMode::bridge, .ports = {{8080, 80, Protocol::tcp}}});
  auto other = prepare("other");
  ASSERT_TRUE(web && other);
  auto listener = listener_in(web.get(), 80);
  auto mappings = network::NatRules::create().value()->mappings();
  ASSERT_TRUE(mappings);
  EXPECT_EQ(*mappings, std::vector<std::string>{"tcp 8080 -> " + address_of("web") + ":80"});
  struct From {
    int netns;
    const char* target;
    std::string seen_as;  // the client address the container sees
  };
  for (const auto& from : {From{network_.outside(), kHostAddress, kOutsideAddress}, From{-1, kHostAddress, kHostAddress},
                           From{-1, "127.0.0.1", "10.88.0.1"}, From{-1, "10.88.0.1", "10.88.0.1"},
                           From{other.get(), kHostAddress, "10.88.0.1"}}) {
    SCOPED_TRACE(std::string("to ") + from.target + ":8080 from " + (from.netns < 0 ? "the host" : "elsewhere"));
    auto served = serve_once(listener);
    EXPECT_EQ(exchange(from.netns, from.target, 8080, "GET"), from.seen_as + " GET");
    EXPECT_EQ(served.get(), from.seen_as);
  }
  ASSERT_TRUE(isolator_->cleanup("web"));
  EXPECT_EQ(exchange(network_.outside(), kHostAddress, 8080, "GET"), "") << "the mapping went with the container";
  ASSERT_TRUE(isolator_->cleanup("other"));
  expect_nothing_left();
}

TEST_F(NetworkIsolatorTest, UdpPortMappingsForwardDatagrams) {
  auto dns = prepare("dns", {.mode = NetworkMode::bridge, .ports = {{5353, 53, Protocol::udp}}});
  ASSERT_TRUE(dns);
  auto server = listener_in(dns.get(), 53, SOCK_DGRAM);
  auto client = socket_in(network_.outside(), SOCK_DGRAM);
  auto target = endpoint(kHostAddress, 5353);
  ASSERT_EQ(::sendto(client.get(), "query", 5, 0, reinterpret_cast<sockaddr*>(&target), sizeof target), 5);
  char buffer[64] = {};
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  ASSERT_EQ(::recvfrom(server.get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &length), 5)
      << std::strerror(errno);
  EXPECT_EQ(std::string(buffer, 5), "query");
  EXPECT_EQ(peer_of(peer), kOutsideAddress);
  ASSERT_EQ(::sendto(server.get(), "answer", 6, 0, reinterpret_cast<sockaddr*>(&peer), length), 6);
  ASSERT_EQ(::recv(client.get(), buffer, sizeof buffer, 0), 6) << "the reply comes back through the mapping";
  EXPECT_EQ(std::string(buffer, 6), "answer");
  ASSERT_TRUE(isolator_->cleanup("dns"));
}

// Sends `total` bytes from `from` to a listener made in `to` and returns the
// rate the receiver saw, in bytes per second, from its first byte to its last.
double transfer_rate(int from, int to, const std::string& to_address, std::size_t total) {
  auto listener = listener_in(to, 7100);
  auto received = std::async(std::launch::async, [fd = listener.get(), total] {
    UniqueFd connection(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
    std::vector<char> buffer(1 << 16);
    std::size_t got = 0;
    std::optional<Clock::time_point> first;
    std::size_t first_bytes = 0;
    for (ssize_t n; got < total && (n = ::read(connection.get(), buffer.data(), buffer.size())) > 0;) {
      if (!first) {
        first = Clock::now();
        first_bytes = n;
      }
      got += n;
    }
    auto seconds = std::chrono::duration<double>(Clock::now() - *first).count();
    return (got - first_bytes) / seconds;
  });
  auto sender = socket_in(from, SOCK_STREAM);
  auto address = endpoint(to_address, 7100);
  EXPECT_EQ(::connect(sender.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval slow{30, 0};
  ::setsockopt(sender.get(), SOL_SOCKET, SO_SNDTIMEO, &slow, sizeof slow);
  std::vector<char> chunk(1 << 16, 'x');
  for (std::size_t sent = 0; sent < total;) {
    auto n = ::write(sender.get(), chunk.data(), std::min(chunk.size(), total - sent));
    if (n <= 0) break;
    sent += n;
  }
  return received.get();
}

TEST_F(NetworkIsolatorTest, BandwidthLimitsHoldWithinTwentyPercentAndTrafficIsCounted) {
  constexpr std::uint64_t kRate = 1 << 20;  // 1 MiB/s
  auto limited = prepare("limited", {.mode = NetworkMode::bridge, .egress_rate = kRate, .ingress_rate = kRate / 2});
  ASSERT_TRUE(limited);
  auto inside = RouteSocket::open_in(limited.get());
  EXPECT_EQ(inside->root_qdisc("eth0").value(), "tbf");
  EXPECT_EQ(network_.host().root_qdisc(host_interface_for("limited")).value(), "tbf");

  auto egress = transfer_rate(limited.get(), -1, "10.88.0.1", 3 * kRate);
  EXPECT_NEAR(egress, kRate, kRate * 0.2) << "egress at " << egress << " bytes/s";
  auto ingress = transfer_rate(-1, limited.get(), address_of("limited"), 3 * kRate / 2);
  EXPECT_NEAR(ingress, kRate / 2, kRate / 2 * 0.2) << "ingress at " << ingress << " bytes/s";

  auto usage = isolator_->usage("limited");
  ASSERT_TRUE(usage);
  EXPECT_GE(*usage->net_tx_bytes, 3 * kRate);
  EXPECT_GE(*usage->net_rx_bytes, 3 * kRate / 2);
  EXPECT_GT(*usage->net_tx_packets, 3 * kRate / 65536);

  auto unlimited = prepare("unlimited");
  auto free_rate = transfer_rate(unlimited.get(), -1, "10.88.0.1", 3 * kRate);
  EXPECT_GT(free_rate, 5.0 * kRate) << "no limit unless one is asked for";
  ASSERT_TRUE(isolator_->cleanup("limited"));
  ASSERT_TRUE(isolator_->cleanup("unlimited"));
}

TEST_F(NetworkIsolatorTest, NoneHasLoopbackOnlyAndHostModeChangesNothing) {
  auto none = prepare("quiet", {.mode = NetworkMode::none});
  ASSERT_TRUE(none);
  auto inside = RouteSocket::open_in(none.get());
  EXPECT_EQ(inside->links().value(), std::vector<std::string>{"lo"});
  EXPECT_TRUE(inside->routes().value().empty());
  auto listener = listener_in(none.get(), 7200);
  auto served = serve_once(listener);
  EXPECT_EQ(exchange(none.get(), "127.0.0.1", 7200, "self"), "127.0.0.1 self") << "loopback works";
  served.get();
  EXPECT_EQ(exchange(none.get(), "10.88.0.1", 7200, "out"), "");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "network/containers/quiet/resolv.conf"));
  {
    auto entered = netns::Enter::into(none.get());
    ASSERT_TRUE(entered);
    EXPECT_EQ(berth::testing::slurp("/proc/sys/net/ipv4/ip_unprivileged_port_start"), "0\n");
    EXPECT_EQ(berth::testing::slurp("/proc/sys/net/ipv4/ping_group_range"), "0\t2147483647\n");
  }
  EXPECT_NE(berth::testing::slurp("/proc/sys/net/ipv4/ip_unprivileged_port_start"), "0\n") << "the host's is its own";

  auto host = isolator_->prepare({.container_id = "shared"});
  ASSERT_TRUE(host);
  EXPECT_EQ(host->namespaces, 0);
  EXPECT_FALSE(host->network);
  ASSERT_TRUE(isolator_->cleanup("quiet"));
  ASSERT_TRUE(isolator_->cleanup("shared"));
  expect_nothing_left();
}

TEST_F(NetworkIsolatorTest, BadInputFailsClearlyAndLeavesNothingHalfMade) {
  ASSERT_TRUE(prepare("first", {.mode = NetworkMode::bridge, .ports = {{8080, 80, Protocol::tcp}}}));
  auto taken = isolator_->prepare({.container_id = "second",
                                   .network = {.mode = NetworkMode::bridge, .ports = {{8080, 81, Protocol::tcp}}}});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().what(), "host tcp port 8080 is already mapped to container first");
  ASSERT_TRUE(isolator_->cleanup("second"));
  EXPECT_FALSE(network_.host().exists(host_interface_for("second")).value());
  EXPECT_EQ(isolator_->ipam().leases().size(), 1u);

  auto host_ports = isolator_->prepare({.container_id = "h", .network = {.ports = {{80, 80, Protocol::tcp}}}});
  ASSERT_FALSE(host_ports);
  EXPECT_EQ(host_ports.error().what(), "port mappings need bridge networking (the task shares the host's ports)");
  ASSERT_TRUE(isolator_->cleanup("first"));
  expect_nothing_left();

  // A subnet with room for one container.
  isolator_.reset();
  ASSERT_TRUE(network_.host().delete_link("berth0"));
  isolator_ = make_isolator("10.88.0.0/30");
  ASSERT_TRUE(prepare("only"));
  auto full = isolator_->prepare({.container_id = "more", .network = {.mode = NetworkMode::bridge}});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().what(), "subnet 10.88.0.0/30 has no free address (1 leased)");
  ASSERT_TRUE(isolator_->cleanup("more"));
  EXPECT_FALSE(network_.host().exists(host_interface_for("more")).value());

  // The bridge already has another subnet's address.
  NetworkOptions options{.state_dir = dir_.path() / "other", .bridge = "berth0",
                         .subnet = *network::Ipv4Cidr::parse("10.77.0.0/16")};
  auto mismatch = NetworkIsolator::create(options);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().what(),
            "bridge berth0 has address 10.88.0.1/30, not the subnet's 10.77.0.1/16 (--network_cidr 10.77.0.0/16)");
  ASSERT_TRUE(isolator_->cleanup("only"));
}

TEST_F(NetworkIsolatorTest, FiveHundredLaunchesAndRemovalsLeaveNothingBehind) {
  for (int i = 0; i < 500; ++i) {
    auto id = "c" + std::to_string(i);
    std::vector<PortMapping> ports;
    if (i % 2 == 0) ports.push_back({static_cast<std::uint16_t>(20000 + i % 7), 80, Protocol::tcp});
    if (i % 3 == 0) ports.push_back({static_cast<std::uint16_t>(20000 + i % 7), 53, Protocol::udp});
    auto mode = i % 5 == 4 ? NetworkMode::none : NetworkMode::bridge;
    if (mode == NetworkMode::none) ports.clear();
    ASSERT_TRUE(prepare(id, {.mode = mode, .ports = ports, .egress_rate = i % 4 == 0 ? 1u << 20 : 0}));
    ASSERT_TRUE(isolator_->cleanup(id)) << id;
  }
  expect_nothing_left();
}

TEST_F(NetworkIsolatorTest, AfterARestartRunningContainersKeepTheirLeasesAndOthersAreFreed) {
  auto kept = prepare("kept", {.mode = NetworkMode::bridge, .ports = {{8080, 80, Protocol::tcp}}});
  auto gone = prepare("gone", {.mode = NetworkMode::bridge, .ports = {{9090, 90, Protocol::tcp}}});
  ASSERT_TRUE(kept && gone);
  auto kept_address = address_of("kept");
  isolator_.reset();  // the agent stops; containers run on
  isolator_ = make_isolator();
  ASSERT_TRUE(isolator_->recover({"kept"}));
  isolator_->settle();
  ASSERT_NE(isolator_->ipam().find("kept"), nullptr);
  EXPECT_EQ(address_of("kept"), kept_address);
  EXPECT_EQ(isolator_->ipam().find("gone"), nullptr);
  EXPECT_FALSE(network_.host().exists(host_interface_for("gone")).value());
  EXPECT_TRUE(network_.host().exists(host_interface_for("kept")).value());
  auto listener = listener_in(kept.get(), 80);
  auto served = serve_once(listener);
  EXPECT_EQ(exchange(network_.outside(), kHostAddress, 8080, "still"), std::string(kOutsideAddress) + " still")
      << "the mapping of the running container was restored";
  served.get();
  EXPECT_EQ(exchange(network_.outside(), kHostAddress, 9090, "gone"), "");
  ASSERT_TRUE(isolator_->cleanup("kept"));
  expect_nothing_left();
}

}  // namespace
}  // namespace berth::isolators
