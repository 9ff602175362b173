// Operator endpoints for roles: GET /roles; GET and PUT /weights; GET and
// POST /quota and DELETE /quota/<role>, in the JSON shapes of Mesos's
// endpoints and v1 operator protos (weights as [{"role","weight"}], a quota
// as a QuotaConfig {"role","guarantees","limits"} whose values are scalars,
// {"cpus": {"value": 4}} or {"cpus": 4}). Weights and quotas are kept in
// <work_dir>/roles.json, so that a restarted master keeps them.

#include <boost/json.hpp>
#include <fmt/format.h>

#include "berth/common/files.hpp"
#include "berth/common/log.hpp"
#include "berth/common/roles.hpp"
#include "master_process.hpp"

namespace berth::master {

namespace json = boost::json;

namespace {

Result<json::value> parse_body(std::string_view body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec) return fail("the body is not JSON: " + ec.message());
  return value;
}

Result<double> number(const json::value& value, std::string_view what) {
  if (value.is_number()) return value.to_number<double>();
  if (const auto* object = value.if_object(); object && object->contains("value") && object->at("value").is_number()) {
    return object->at("value").to_number<double>();
  }
  return fail(fmt::format("{} must be a number or {{\"value\": number}}", what));
}

// {"cpus": 4, "mem": {"value": 1024}} -> cpus:4;mem:1024
Result<Resources> scalars(const json::value& value, std::string_view what) {
  const auto* object = value.if_object();
  if (object == nullptr) return fail(fmt::format("'{}' must be an object of resource names to amounts", what));
  Resources out;
  for (const auto& [name, amount] : *object) {
    BERTH_TRY(auto parsed, number(amount, fmt::format("'{}.{}'", what, std::string_view(name))));
    BERTH_TRY(auto one, Resources::parse(fmt::format("{}:{}", std::string_view(name), parsed)));
    out += one;
  }
  return out;
}

json::object scalars_json(const Resources& resources) {
  json::object out;
  resources.each_scalar([&](std::string_view name, double amount) { out[name] = json::object{{"value", amount}}; });
  return out;
}

Result<std::pair<std::string, Quota>> quota_config(const json::value& value) {
  const auto* object = value.if_object();
  if (object == nullptr || !object->contains("role") || !object->at("role").is_string()) {
    return fail("a quota config must be an object with a string 'role'");
  }
  std::string role(object->at("role").as_string());
  BERTH_TRY_VOID(roles::validate(role));
  Quota quota;
  if (object->contains("guarantees")) {
    BERTH_TRY(quota.guarantee, scalars(object->at("guarantees"), "guarantees"));
  }
  if (object->contains("limits")) {
    BERTH_TRY(quota.limit, scalars(object->at("limits"), "limits"));
  }
  for (const auto& [key, ignored] : *object) {
    if (key != "role" && key != "guarantees" && key != "limits") {
      return fail(fmt::format("unknown field '{}' in a quota config", std::string_view(key)));
    }
  }
  return std::pair{std::move(role), std::move(quota)};
}

json::object quota_json(const std::string& role, const Quota& quota) {
  return json::object{
      {"role", role}, {"guarantees", scalars_json(quota.guarantee)}, {"limits", scalars_json(quota.limit)}};
}

// --weights "eng=2,ads=0.5"
Result<std::map<std::string, double>> parse_weights_flag(std::string_view text) {
  std::map<std::string, double> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    auto end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    auto item = text.substr(start, end - start);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) return fail(fmt::format("--weights: '{}' is not role=weight", item));
    std::string role(item.substr(0, eq));
    double weight = 0;
    try {
      std::size_t used = 0;
      weight = std::stod(std::string(item.substr(eq + 1)), &used);
      if (used != item.size() - eq - 1) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return fail(fmt::format("--weights: '{}' is not a number", item.substr(eq + 1)));
    }
    out[role] = weight;
    start = end + 1;
  }
  return out;
}

http::Response json_response(const json::value& value) {
  return http::make_response(http::Status::ok, json::serialize(value), "application/json");
}

http::Response bad_request(const Error& error) {
  return http::error_response(http::Status::bad_request, error.what());
}

}  // namespace

Result<void> MasterProcess::load_roles_config() {
  if (!flags_.weights.empty()) {
    BERTH_TRY(auto weights, parse_weights_flag(flags_.weights));
    for (const auto& [role, weight] : weights) {
      BERTH_TRY_VOID(with_context(allocator_.set_weight(role, weight), "--weights"));
      weights_[role] = weight;
    }
  }
  if (flags_.work_dir.empty()) return {};
  auto path = std::filesystem::path(flags_.work_dir) / "roles.json";
  if (!std::filesystem::exists(path)) return {};
  BERTH_TRY(auto text, files::read(path));
  auto load = [&]() -> Result<void> {
    BERTH_TRY(auto value, parse_body(text));
    if (const auto* weights = value.as_object().if_contains("weights"); weights && weights->is_array()) {
      for (const auto& entry : weights->as_array()) {
        std::string role(entry.at("role").as_string());
        BERTH_TRY(auto weight, number(entry.at("weight"), "weight"));
        BERTH_TRY_VOID(allocator_.set_weight(role, weight));
        weights_[role] = weight;
      }
    }
    if (const auto* quotas = value.as_object().if_contains("quotas"); quotas && quotas->is_array()) {
      for (const auto& entry : quotas->as_array()) {
        BERTH_TRY(auto config, quota_config(entry));
        BERTH_TRY_VOID(allocator_.set_quota(config.first, config.second));
        quotas_[config.first] = config.second;
      }
    }
    return {};
  };
  Result<void> loaded;
  try {
    loaded = load();
  } catch (const std::exception& e) {  // a field of the wrong JSON type
    loaded = fail(e.what());
  }
  if (!loaded) return fail(loaded.error().context(path.string()));
  log::info("Loaded {} weight(s) and {} quota(s) from {}", weights_.size(), quotas_.size(), path.string());
  return {};
}

Result<void> MasterProcess::save_roles_config() const {
  if (flags_.work_dir.empty()) return {};
  json::array weights;
  for (const auto& [role, weight] : weights_) weights.push_back(json::object{{"role", role}, {"weight", weight}});
  json::array quotas;
  for (const auto& [role, quota] : quotas_) quotas.push_back(quota_json(role, quota));
  BERTH_TRY_VOID(files::make_dirs(flags_.work_dir));
  return files::write_atomic(std::filesystem::path(flags_.work_dir) / "roles.json",
                             json::serialize(json::object{{"weights", weights}, {"quotas", quotas}}));
}

http::Response MasterProcess::weights_response(const http::Request& request) {
  if (request.method() == http::Verb::get) {
    json::array out;
    for (const auto& [role, weight] : weights_) out.push_back(json::object{{"role", role}, {"weight", weight}});
    return json_response(out);
  }
  if (request.method() != http::Verb::put) {
    auto refused = http::error_response(http::Status::method_not_allowed, "Expecting GET or PUT");
    refused.set(boost::beast::http::field::allow, "GET, PUT");
    return refused;
  }
  auto applied = [&]() -> Result<void> {
    BERTH_TRY(auto value, parse_body(request.body()));
    if (!value.is_array()) return fail("expecting an array of {\"role\", \"weight\"}");
    std::map<std::string, double> wanted;
    for (const auto& entry : value.as_array()) {
      const auto* object = entry.if_object();
      if (!object || !object->contains("role") || !object->at("role").is_string() || !object->contains("weight")) {
        return fail("expecting an array of {\"role\", \"weight\"}");
      }
      std::string role(object->at("role").as_string());
      BERTH_TRY_VOID(roles::validate(role));
      BERTH_TRY(auto weight, number(object->at("weight"), "'weight' of role '" + role + "'"));
      if (!(weight > 0)) return fail(fmt::format("role '{}': weight must be positive, not {}", role, weight));
      wanted[role] = weight;
    }
    for (const auto& [role, weight] : wanted) {
      BERTH_TRY_VOID(allocator_.set_weight(role, weight));
      weights_[role] = weight;
    }
    return save_roles_config();
  }();
  if (!applied) return bad_request(applied.error());
  request_allocation();
  return http::make_response(http::Status::ok, "");
}

Result<void> MasterProcess::set_quotas(std::string_view body) {
  BERTH_TRY(auto value, parse_body(body));
  std::vector<json::value> items;
  if (const auto* object = value.if_object(); object && object->contains("configs")) {
    if (!object->at("configs").is_array()) return fail("'configs' must be an array");
    for (const auto& item : object->at("configs").as_array()) items.push_back(item);
  } else {
    items.push_back(value);
  }
  std::vector<std::pair<std::string, Quota>> configs;
  for (const auto& item : items) {
    BERTH_TRY(auto config, quota_config(item));
    configs.push_back(std::move(config));
  }
  for (auto& [role, quota] : configs) {
    BERTH_TRY_VOID(allocator_.set_quota(role, quota));
    quotas_[role] = quota;
  }
  return save_roles_config();
}

http::Response MasterProcess::quota_response(const http::Request& request, std::string_view path) {
  auto prefix = path.starts_with("/master/") ? std::string_view("/master/quota") : std::string_view("/quota");
  auto tail = path.substr(prefix.size());
  auto verb = request.method();
  if (verb == http::Verb::get && tail.empty()) {
    json::array configs;
    for (const auto& [role, quota] : quotas_) configs.push_back(quota_json(role, quota));
    return json_response(json::object{{"configs", configs}});
  }
  if (verb == http::Verb::post && tail.empty()) {
    if (auto applied = set_quotas(request.body()); !applied) return bad_request(applied.error());
    request_allocation();
    return http::make_response(http::Status::ok, "");
  }
  if (verb == http::Verb::delete_ && tail.size() > 1) {
    std::string role(tail.substr(1));
    if (!quotas_.contains(role)) return http::error_response(http::Status::not_found, "Role '" + role + "' has no quota");
    (void)allocator_.set_quota(role, {});
    quotas_.erase(role);
    if (auto saved = save_roles_config(); !saved) log::warn("Saving roles: {}", saved.error().what());
    request_allocation();
    return http::make_response(http::Status::ok, "");
  }
  auto refused =
      http::error_response(http::Status::method_not_allowed, "Expecting GET or POST /quota, or DELETE /quota/<role>");
  refused.set(boost::beast::http::field::allow, tail.empty() ? "GET, POST" : "DELETE");
  return refused;
}

void MasterProcess::add_operator_routes() {
  auto roles = http::only(http::Verb::get, [this](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, roles_json(), "application/json"));
  });
  server_.route("/roles", leader_only(roles));
  server_.route("/master/roles", leader_only(roles));

  auto weights = [this](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(weights_response(exchange.request()));
  };
  server_.route("/weights", leader_only(weights));
  server_.route("/master/weights", leader_only(weights));

  auto quota = [this](http::Exchange& exchange) -> asio::awaitable<void> {
    auto path = std::string(exchange.path());
    co_await exchange.respond(quota_response(exchange.request(), path));
  };
  server_.route("/quota", leader_only(quota));
  server_.route("/master/quota", leader_only(quota));
  server_.route_prefix("/quota/", leader_only(quota));
  server_.route_prefix("/master/quota/", leader_only(quota));
}

}  // namespace berth::master
