#pragma once
// IPv4 addresses and subnets as the network isolator reads them from flags
// and lease files: strict dotted-quad text, prefixes 0-32, no host bits.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::isolators::network {

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order

  static Result<Ipv4Address> parse(std::string_view text);
  std::string str() const;
  Ipv4Address operator+(std::uint32_t offset) const { return {value + offset}; }
  auto operator<=>(const Ipv4Address&) const = default;
};

struct Ipv4Cidr {
  Ipv4Address network;
  int prefix = 32;

  // "172.31.0.0/16". Errors name the text and what is wrong with it.
  static Result<Ipv4Cidr> parse(std::string_view text);
  std::string str() const;
  std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  std::uint64_t size() const { return std::uint64_t{1} << (32 - prefix); }
  Ipv4Address broadcast() const { return {network.value | ~mask()}; }
  bool contains(Ipv4Address address) const { return (address.value & mask()) == network.value; }
  bool overlaps(const Ipv4Cidr& other) const {
    auto shorter = prefix < other.prefix ? *this : other;
    return shorter.contains(prefix < other.prefix ? other.network : network);
  }
  auto operator<=>(const Ipv4Cidr&) const = default;
};

}  // namespace berth::isolators::network
