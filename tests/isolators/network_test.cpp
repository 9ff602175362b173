// Addresses, subnets and leases of the network isolator, without root.

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "berth/isolators/network.hpp"
#include "berth/isolators/network/ipam.hpp"
#include "berth/isolators/network/ipv4.hpp"
#include "support/temp_dir.hpp"

namespace berth::isolators::network {
namespace {

using berth::testing::TempDir;

TEST(Ipv4, ParsesDottedQuadsStrictly) {
  auto ok = Ipv4Address::parse("172.31.0.2");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->value, 0xAC1F0002u);
  EXPECT_EQ(ok->str(), "172.31.0.2");
  for (const char* bad : {"", "10.1", "10.0.0.256", "10.0.0.1 ", "a.b.c.d", "1.2.3.4.5", "::1"}) {
    auto parsed = Ipv4Address::parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().what(), "'" + std::string(bad) + "' is not an IPv4 address");
  }
}

TEST(Ipv4Cidr, ParsesAndNamesWhatIsWrong) {
  auto cidr = Ipv4Cidr::parse("10.88.0.0/16");
  ASSERT_TRUE(cidr);
  EXPECT_EQ(cidr->str(), "10.88.0.0/16");
  EXPECT_EQ(cidr->size(), 65536u);
  EXPECT_EQ(cidr->broadcast().str(), "10.88.255.255");
  EXPECT_TRUE(cidr->contains(*Ipv4Address::parse("10.88.3.4")));
  EXPECT_FALSE(cidr->contains(*Ipv4Address::parse("10.89.0.1")));
  EXPECT_TRUE(cidr->overlaps(*Ipv4Cidr::parse("10.88.7.0/24")));
  EXPECT_FALSE(cidr->overlaps(*Ipv4Cidr::parse("10.89.0.0/24")));

  EXPECT_EQ(Ipv4Cidr::parse("10.88.0.0").error().what(), "'10.88.0.0' is not a CIDR subnet (expected ADDRESS/PREFIX)");
  EXPECT_EQ(Ipv4Cidr::parse("10.88.0.0/33").error().what(),
            "'10.88.0.0/33': the prefix length must be a number from 0 to 32");
  EXPECT_EQ(Ipv4Cidr::parse("10.88.0.0/").error().what(),
            "'10.88.0.0/': the prefix length must be a number from 0 to 32");
  EXPECT_EQ(Ipv4Cidr::parse("10.88.0.1/16").error().what(), "'10.88.0.1/16': host bits are set (the subnet is 10.88.0.0/16)");
  EXPECT_EQ(Ipv4Cidr::parse("10.88.0/16").error().what(), "'10.88.0/16': '10.88.0' is not an IPv4 address");
}

Ipv4Cidr subnet(const char* text) { return *Ipv4Cidr::parse(text); }

TEST(Ipam, LeasesDistinctAddressesAfterTheGatewayAndKeepsThemOnDisk) {
  TempDir dir;
  auto ipam = Ipam::open(dir / "leases", subnet("10.88.0.0/24"));
  ASSERT_TRUE(ipam) << ipam.error().what();
  EXPECT_EQ((*ipam)->gateway().str(), "10.88.0.1");
  auto a = (*ipam)->allocate("a", "bva", {{8080, 80, Protocol::tcp}});
  auto b = (*ipam)->allocate("b", "bvb", {{8080, 53, Protocol::udp}});
  ASSERT_TRUE(a && b) << (a ? b.error().what() : a.error().what());
  EXPECT_EQ(a->address.str(), "10.88.0.2");
  EXPECT_EQ(b->address.str(), "10.88.0.3");
  EXPECT_EQ(berth::testing::slurp(dir / "leases/10.88.0.2"), "container a\ninterface bva\nport tcp 8080 80\n");

  auto reopened = Ipam::open(dir / "leases", subnet("10.88.0.0/24"));
  ASSERT_TRUE(reopened);
  ASSERT_NE((*reopened)->find("b"), nullptr);
  EXPECT_EQ((*reopened)->find("b")->address.str(), "10.88.0.3");
  EXPECT_EQ((*reopened)->find("b")->ports, (std::vector<PortMapping>{{8080, 53, Protocol::udp}}));
  ASSERT_TRUE((*reopened)->release("a"));
  EXPECT_FALSE(std::filesystem::exists(dir / "leases/10.88.0.2"));
  EXPECT_TRUE((*reopened)->release("a")) << "releasing twice is harmless";
  EXPECT_EQ((*reopened)->leases().size(), 1u);
}

TEST(Ipam, RefusesTakenHostPortsAndSecondLeases) {
  TempDir dir;
  auto ipam = *Ipam::open(dir / "leases", subnet("10.88.0.0/24"));
  ASSERT_TRUE(ipam->allocate("a", "bva", {{8080, 80, Protocol::tcp}}));
  auto clash = ipam->allocate("b", "bvb", {{8081, 81, Protocol::tcp}, {8080, 80, Protocol::tcp}});
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().what(), "host tcp port 8080 is already mapped to container a");
  auto twice = ipam->allocate("b", "bvb", {{9000, 80, Protocol::udp}, {9000, 81, Protocol::udp}});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().what(), "host udp port 9000 is mapped twice");
  EXPECT_EQ(ipam->allocate("a", "bva", {}).error().what(), "container a already has an address");
  EXPECT_EQ(ipam->leases().size(), 1u) << "a refused lease leaves nothing";
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "leases"), {}), 1);
}

TEST(Ipam, AnExhaustedSubnetSaysSoAndFreedAddressesComeBack) {
  TempDir dir;
  auto ipam = *Ipam::open(dir / "leases", subnet("10.88.0.0/29"));  // .1 bridge, .2-.6 containers
  std::set<std::string> addresses;
  for (int i = 0; i < 5; ++i) {
    auto lease = ipam->allocate("c" + std::to_string(i), "bv", {});
    ASSERT_TRUE(lease) << lease.error().what();
    addresses.insert(lease->address.str());
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"10.88.0.2", "10.88.0.3", "10.88.0.4", "10.88.0.5", "10.88.0.6"}));
  auto full = ipam->allocate("c5", "bv", {});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().what(), "subnet 10.88.0.0/29 has no free address (5 leased)");
  ASSERT_TRUE(ipam->release("c3"));
  auto again = ipam->allocate("c5", "bv", {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->address.str(), "10.88.0.5");
  EXPECT_EQ(Ipam::open(dir / "small", subnet("10.88.0.0/31")).error().what(),
            "subnet 10.88.0.0/31 is too small: it needs room for the bridge and a container (/30 at most)");
}

TEST(Ipam, DropsLeaseFilesThatDoNotParseOrDoNotFit) {
  TempDir dir;
  std::filesystem::create_directories(dir / "leases");
  auto write = [&](const std::string& name, const std::string& text) { std::ofstream(dir / "leases" / name) << text; };
  write("10.88.0.2", "container good\ninterface bvgood\nport tcp 80 80\n");
  write("10.88.0.3", "container bad\ninterface bvbad\nport tcp 0 80\n");  // port 0
  write("10.99.0.4", "container elsewhere\ninterface bvx\n");             // another subnet
  write("10.88.0.5", "garbage");
  write("10.88.0.6", "container good\ninterface bvtwice\n");  // a second lease
  write(".tmp-half", "container half\n");
  auto ipam = Ipam::open(dir / "leases", subnet("10.88.0.0/24"));
  ASSERT_TRUE(ipam);
  ASSERT_EQ((*ipam)->leases().size(), 1u);
  EXPECT_EQ((*ipam)->leases()[0].container_id, "good");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "leases"), {}), 1);
}

TEST(NetworkNames, HostInterfacesFitTheKernelsLimitAndBadBridgeNamesAreRefused) {
  auto name = host_interface_for("7a0c2b8e-94c1-4b52-9a3e-0f1d2c3b4a59");
  EXPECT_EQ(name.size(), 14u);
  EXPECT_TRUE(name.starts_with("bv"));
  EXPECT_EQ(name, host_interface_for("7a0c2b8e-94c1-4b52-9a3e-0f1d2c3b4a59"));
  EXPECT_NE(name, host_interface_for("7a0c2b8e-94c1-4b52-9a3e-0f1d2c3b4a5a"));
  EXPECT_TRUE(check_interface_name("berth0"));
  EXPECT_EQ(check_interface_name("a-very-long-bridge").error().what(),
            "interface name 'a-very-long-bridge' must have 1 to 15 characters");
  EXPECT_EQ(check_interface_name("br/0").error().what(), "interface name 'br/0' has a character interfaces cannot have ('/')");
  EXPECT_EQ(burst_for(1 << 20), (1u << 20) / 10);
  EXPECT_EQ(burst_for(1000), 16u * 1024);
}

}  // namespace
}  // namespace berth::isolators::network
