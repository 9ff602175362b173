#include "berth/fetcher/image_config.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace berth::fetcher {
namespace {

namespace json = boost::json;

Result<std::string> optional_string(const json::object& object, std::string_view key, std::string_view where) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return std::string();
  if (!value->is_string()) return fail(fmt::format("{}{} must be a string", where, key));
  return std::string(value->as_string());
}

// Docker writes null for an empty list.
Result<std::vector<std::string>> optional_strings(const json::object& object, std::string_view key,
                                                  std::string_view where) {
  std::vector<std::string> out;
  const auto* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return out;
  if (!value->is_array()) return fail(fmt::format("{}{} must be an array of strings", where, key));
  for (const auto& item : value->as_array()) {
    if (!item.is_string()) return fail(fmt::format("{}{} must be an array of strings", where, key));
    out.emplace_back(item.as_string());
  }
  return out;
}

}  // namespace

Result<ImageConfig> parse_image_config(std::string_view text) {
  auto parsed = [&]() -> Result<ImageConfig> {
    boost::system::error_code ec;
    auto value = json::parse(text, ec);
    if (ec) return fail("not JSON: " + ec.message());
    if (!value.is_object()) return fail("not a JSON object");
    const auto& document = value.as_object();
    ImageConfig config;
    BERTH_TRY(config.os, optional_string(document, "os", ""));
    BERTH_TRY(config.architecture, optional_string(document, "architecture", ""));
    BERTH_TRY(config.variant, optional_string(document, "variant", ""));
    if (const auto* run = document.if_contains("config"); run && !run->is_null()) {
      if (!run->is_object()) return fail("config must be an object");
      const auto& c = run->as_object();
      BERTH_TRY(config.entrypoint, optional_strings(c, "Entrypoint", "config."));
      BERTH_TRY(config.cmd, optional_strings(c, "Cmd", "config."));
      BERTH_TRY(config.env, optional_strings(c, "Env", "config."));
      BERTH_TRY(config.working_dir, optional_string(c, "WorkingDir", "config."));
      BERTH_TRY(config.user, optional_string(c, "User", "config."));
      if (const auto* ports = c.if_contains("ExposedPorts"); ports && !ports->is_null()) {
        if (!ports->is_object()) return fail("config.ExposedPorts must be an object");
        for (const auto& [port, ignored] : ports->as_object()) config.exposed_ports.emplace_back(port);
      }
    }
    const auto* rootfs = document.if_contains("rootfs");
    if (rootfs == nullptr || !rootfs->is_object()) return fail("rootfs is missing");
    const auto& r = rootfs->as_object();
    BERTH_TRY(auto type, optional_string(r, "type", "rootfs."));
    if (type != "layers") return fail(fmt::format("rootfs.type is \"{}\", not \"layers\"", type));
    BERTH_TRY(auto diff_ids, optional_strings(r, "diff_ids", "rootfs."));
    for (std::size_t i = 0; i < diff_ids.size(); ++i) {
      BERTH_TRY(auto digest, with_context(parse_digest(diff_ids[i]), fmt::format("rootfs.diff_ids[{}]", i)));
      config.diff_ids.push_back(std::move(digest));
    }
    return config;
  }();
  return with_context(std::move(parsed), "image config");
}

}  // namespace berth::fetcher
