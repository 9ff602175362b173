#include "berth/isolators/network/ipv4.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace berth::isolators::network {

Result<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  // inet_pton takes exactly four decimal octets (no "10.1", no octal).
  std::string copy(text);
  in_addr address{};
  if (copy.size() > INET_ADDRSTRLEN || ::inet_pton(AF_INET, copy.c_str(), &address) != 1) {
    return fail("'" + copy + "' is not an IPv4 address");
  }
  return Ipv4Address{ntohl(address.s_addr)};
}

std::string Ipv4Address::str() const {
  in_addr address{htonl(value)};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

Result<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text) {
  auto quoted = "'" + std::string(text) + "'";
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return fail(quoted + " is not a CIDR subnet (expected ADDRESS/PREFIX)");
  auto address = Ipv4Address::parse(text.substr(0, slash));
  if (!address) return fail(quoted + ": " + address.error().message());
  auto digits = text.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix < 0 || prefix > 32) {
    return fail(quoted + ": the prefix length must be a number from 0 to 32");
  }
  Ipv4Cidr cidr{*address, prefix};
  if ((address->value & ~cidr.mask()) != 0) {
    Ipv4Cidr base{{address->value & cidr.mask()}, prefix};
    return fail(quoted + ": host bits are set (the subnet is " + base.str() + ")");
  }
  return cidr;
}

std::string Ipv4Cidr::str() const { return network.str() + "/" + std::to_string(prefix); }

}  // namespace berth::isolators::network
