#include "berth/isolators/network/nat_rules.hpp"

#include <nftables/libnftables.h>

#include <boost/json.hpp>

#include "berth/common/text.hpp"

namespace berth::isolators::network {

namespace json = boost::json;

namespace {

std::string key(const PortMapping& port) {
  return std::string(to_string(port.protocol)) + " . " + std::to_string(port.host_port);
}

}  // namespace

Result<std::unique_ptr<NatRules>> NatRules::create() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return fail("nftables: cannot create a context");
  std::unique_ptr<NatRules> rules(new NatRules(ctx));
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) return fail("nftables: cannot buffer output");
  return rules;
}

NatRules::~NatRules() { nft_ctx_free(ctx_); }

Result<std::string> NatRules::run(const std::string& commands) {
  int rc = nft_run_cmd_from_buffer(ctx_, commands.c_str());
  std::string output = nft_ctx_get_output_buffer(ctx_);
  std::string errors = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) return fail("nftables: " + std::string(text::trim(errors.empty() ? "command failed" : errors)));
  return output;
}

Result<void> NatRules::install(const std::string& bridge, const Ipv4Cidr& subnet) {
  const std::string table = std::string("ip ") + kTable;
  const auto quoted = "\"" + bridge + "\"";
  // Declaring the table first makes the delete valid when there is none.
  std::string commands = "table " + table + " {}\ndelete table " + table + "\n";
  commands += "table " + table + " {\n";
  commands += "  map ports { type inet_proto . inet_service : ipv4_addr . inet_service; }\n";
  for (const auto& [chain, hook, priority] : {std::tuple{"prerouting", "prerouting", "dstnat"},
                                              std::tuple{"output", "output", "-100"}}) {
    commands += std::string("  chain ") + chain + " { type nat hook " + hook + " priority " + priority +
                "; policy accept; fib daddr type local dnat ip to meta l4proto . th dport map @ports; }\n";
  }
  commands += "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n";
  commands += "    ip saddr " + subnet.str() + " oifname != " + quoted + " masquerade\n";
  commands += "    oifname " + quoted + " ip saddr 127.0.0.0/8 masquerade\n";
  commands += "    oifname " + quoted + " ip saddr " + subnet.str() + " ct status dnat masquerade\n";
  commands += "  }\n}\n";
  BERTH_TRY_VOID(with_context(run(commands), "installing table " + table));
  return {};
}

Result<void> NatRules::add(Ipv4Address container, const std::vector<PortMapping>& ports) {
  if (ports.empty()) return {};
  std::string elements;
  for (const auto& port : ports) {
    elements += (elements.empty() ? "" : ", ") + key(port) + " : " + container.str() + " . " +
                std::to_string(port.container_port);
  }
  BERTH_TRY_VOID(run("add element ip " + std::string(kTable) + " ports { " + elements + " }\n"));
  return {};
}

Result<void> NatRules::remove(const std::vector<PortMapping>& ports) {
  // One at a time: a delete of several fails whole if one is missing.
  for (const auto& port : ports) {
    auto deleted = run("delete element ip " + std::string(kTable) + " ports { " + key(port) + " }\n");
    if (!deleted && deleted.error().message().find("No such file or directory") == std::string::npos) {
      return fail(std::move(deleted).error());
    }
  }
  return {};
}

Result<void> NatRules::uninstall() {
  const std::string table = std::string("ip ") + kTable;
  BERTH_TRY_VOID(run("table " + table + " {}\ndelete table " + table + "\n"));
  return {};
}

Result<std::vector<std::string>> NatRules::mappings() {
  nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
  auto listed = run("list map ip " + std::string(kTable) + " ports\n");
  nft_ctx_output_set_flags(ctx_, 0);
  if (!listed) return fail(std::move(listed).error());
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto doc = json::parse(*listed, ec);
  if (ec || !doc.is_object()) return fail("nftables: unreadable map listing");
  for (const auto& item : doc.at("nftables").as_array()) {
    const auto* map = item.as_object().if_contains("map");
    if (!map || !map->as_object().contains("elem")) continue;
    for (const auto& elem : map->as_object().at("elem").as_array()) {
      // [ {"concat": [proto, port]}, {"concat": [address, port]} ]
      const auto& pair = elem.as_array();
      const auto& from = pair.at(0).at("concat").as_array();
      const auto& to = pair.at(1).at("concat").as_array();
      out.push_back(std::string(from.at(0).as_string()) + " " + json::serialize(from.at(1)) + " -> " +
                    std::string(to.at(0).as_string()) + ":" + json::serialize(to.at(1)));
    }
  }
  return out;
}

}  // namespace berth::isolators::network
