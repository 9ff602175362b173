#pragma once
// A network namespace of the test's own (root), entered by the calling
// thread for the length of a test: the "test host", with loopback up, where
// an agent's or isolator's bridge, veths, routes and nftables table live and
// die without touching the machine's network. Optionally a second host,
// joined to it by a veth pair: out0 (kHostAddress/24) on the test host, eth0
// (kOutsideAddress/24) in the second host's namespace. Processes the thread
// starts while it is in the test host are in it too.
//
// Header-only: it needs the isolators' RouteSocket, which the test support
// library does not link.

#include <gtest/gtest.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "berth/common/fd.hpp"
#include "berth/common/netns.hpp"
#include "berth/isolators/network/netlink.hpp"

namespace berth::testing {

class TestHostNetwork {
 public:
  static constexpr const char* kHostAddress = "10.99.0.1";     // the test host, on the link to the second host
  static constexpr const char* kOutsideAddress = "10.99.0.2";  // the second host

  enum class SecondHost { none, linked };

  // gtest failures when a part cannot be made (call through ASSERT_NO_FATAL_FAILURE).
  void enter(SecondHost second = SecondHost::none) {
    using isolators::network::Ipv4Address;
    using isolators::network::RouteSocket;
    auto home = netns::current();
    ASSERT_TRUE(home);
    home_ = std::move(*home);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "a test host of our own: " << std::strerror(errno);
    auto host = RouteSocket::open();
    ASSERT_TRUE(host);
    host_.emplace(std::move(*host));
    ASSERT_TRUE(host_->set_up("lo"));
    if (second == SecondHost::none) return;
    auto here = netns::current();
    ASSERT_TRUE(here);
    outside_ = netns::make(here->get()).value();
    ASSERT_TRUE(host_->add_veth("out0", "eth0", outside_.get()));
    ASSERT_TRUE(host_->add_address("out0", {*Ipv4Address::parse(kHostAddress), 24}));
    ASSERT_TRUE(host_->set_up("out0"));
    auto inside = RouteSocket::open_in(outside_.get());
    ASSERT_TRUE(inside);
    ASSERT_TRUE(inside->add_address("eth0", {*Ipv4Address::parse(kOutsideAddress), 24}));
    ASSERT_TRUE(inside->set_up("eth0"));
    ASSERT_TRUE(inside->set_up("lo"));
  }

  // Back to the namespace the thread was in; the test host goes with its last user.
  void leave() {
    if (!home_) return;
    EXPECT_EQ(::setns(home_.get(), CLONE_NEWNET), 0);
    home_.reset();
  }

  isolators::network::RouteSocket& host() { return *host_; }
  int outside() const { return outside_.get(); }  // the second host's namespace

  // Containers' host ends of veth pairs ("bv..."), on the test host.
  std::vector<std::string> bridge_interfaces() {
    std::vector<std::string> out;
    auto links = host_->links().value();
    for (auto& link : links) {
      if (link.starts_with("bv")) out.push_back(std::move(link));
    }
    return out;
  }

 private:
  UniqueFd home_;
  UniqueFd outside_;
  std::optional<isolators::network::RouteSocket> host_;
};

}  // namespace berth::testing
