#include "berth/common/resource_pools.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "berth/common/roles.hpp"
#include "berth/common/text.hpp"

namespace berth {

namespace v1 = mesos::v1;

namespace {

const Resources kNone;

// "cpus(eng)" -> {"cpus", "eng"}; "cpus" -> {"cpus", "*"}.
Result<std::pair<std::string, std::string>> split_role(std::string_view name) {
  name = text::trim(name);
  auto open = name.find('(');
  if (open == std::string_view::npos) return std::pair{std::string(name), std::string("*")};
  if (!name.ends_with(')')) return fail(fmt::format("resource '{}': unterminated role", name));
  auto role = name.substr(open + 1, name.size() - open - 2);
  BERTH_TRY_VOID(with_context(roles::validate(role), fmt::format("resource '{}'", name)));
  return std::pair{std::string(text::trim(name.substr(0, open))), std::string(role)};
}

// Splits at ';' outside [] and {}.
std::vector<std::string_view> parts_of(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ';';
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (c == ';' && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Resource.role is deprecated in Mesos's protos, but frameworks without the
// RESERVATION_REFINEMENT capability still read and write reservations there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
std::string_view reservation_role(const v1::Resource& resource) {
  if (resource.reservations_size() > 0) return resource.reservations(resource.reservations_size() - 1).role();
  return resource.role();
}

void set_pre_refinement_role(v1::Resource& resource, const std::string& role) { resource.set_role(role); }
#pragma GCC diagnostic pop

}  // namespace

ResourcePools::ResourcePools(Resources unreserved) {
  if (!unreserved.empty()) pools_.emplace_back("*", std::move(unreserved));
}

ResourcePools::Pools::iterator ResourcePools::find(std::string_view role) {
  auto it = std::lower_bound(pools_.begin(), pools_.end(), role,
                             [](const auto& pool, std::string_view r) { return pool.first < r; });
  return it != pools_.end() && it->first == role ? it : pools_.end();
}

ResourcePools::Pools::const_iterator ResourcePools::find(std::string_view role) const {
  return const_cast<ResourcePools*>(this)->find(role);
}

Resources& ResourcePools::ensure(std::string_view role) {
  auto it = std::lower_bound(pools_.begin(), pools_.end(), role,
                             [](const auto& pool, std::string_view r) { return pool.first < r; });
  if (it == pools_.end() || it->first != role) it = pools_.emplace(it, std::string(role), Resources{});
  return it->second;
}

void ResourcePools::drop_empty() {
  std::erase_if(pools_, [](const auto& pool) { return pool.second.empty(); });
}

Result<ResourcePools> ResourcePools::parse(std::string_view text) {
  std::map<std::string, std::string> by_role;  // role -> "name:value;..." of that role
  for (auto part : parts_of(text)) {
    part = text::trim(part);
    if (part.empty()) continue;
    auto colon = part.find(':');
    if (colon == std::string_view::npos) return fail(fmt::format("resource '{}' is not of the form name:value", part));
    BERTH_TRY(auto name_role, split_role(part.substr(0, colon)));
    auto& same_role = by_role[name_role.second];
    if (!same_role.empty()) same_role += ';';
    same_role += name_role.first + ":" + std::string(part.substr(colon + 1));
  }
  ResourcePools out;
  for (const auto& [role, resources] : by_role) {
    BERTH_TRY(auto parsed, with_context(Resources::parse(resources), role == "*" ? "" : "role " + role));
    if (!parsed.empty()) out.ensure(role) = std::move(parsed);
  }
  return out;
}

Result<ResourcePools> ResourcePools::parse_json(std::string_view json) {
  BERTH_TRY(auto protos, Resources::protos_from_json(json));
  return from_proto(protos);
}

Result<ResourcePools> ResourcePools::from_proto(const Resources::Protos& resources) {
  std::map<std::string, Resources::Protos, std::less<>> by_role;
  for (const auto& resource : resources) {
    auto role = std::string(reservation_role(resource));
    BERTH_TRY_VOID(with_context(roles::validate(role), fmt::format("resource '{}'", resource.name())));
    *by_role[role].Add() = resource;
  }
  ResourcePools out;
  for (const auto& [role, protos] : by_role) {
    BERTH_TRY(auto parsed, Resources::from_proto(protos));
    if (!parsed.empty()) out.ensure(role) = std::move(parsed);
  }
  return out;
}

Resources::Protos ResourcePools::to_proto(Format format, std::string_view allocated_to) const {
  Resources::Protos out;
  for (const auto& [role, resources] : pools_) {
    for (auto& resource : resources.to_proto()) {
      if (role != "*") {
        if (format == Format::pre_refinement) {
          set_pre_refinement_role(resource, role);
        } else {
          auto* reservation = resource.add_reservations();
          reservation->set_type(v1::Resource::ReservationInfo::STATIC);
          reservation->set_role(role);
        }
      }
      if (!allocated_to.empty()) resource.mutable_allocation_info()->set_role(std::string(allocated_to));
      *out.Add() = std::move(resource);
    }
  }
  return out;
}

const Resources& ResourcePools::pool(std::string_view role) const {
  auto it = find(role);
  return it == pools_.end() ? kNone : it->second;
}

Resources* ResourcePools::mutable_pool(std::string_view role) {
  auto it = find(role);
  return it == pools_.end() ? nullptr : &it->second;
}

Resources ResourcePools::total() const {
  Resources sum;
  for (const auto& [role, resources] : pools_) sum += resources;
  return sum;
}

ResourcePools ResourcePools::allocatable_to(std::string_view role) const {
  ResourcePools out;
  for (const auto& [reserved_for, resources] : pools_) {
    if (reserved_for == "*" || reserved_for == role || roles::is_strict_subrole(role, reserved_for)) {
      out.pools_.emplace_back(reserved_for, resources);  // in order already
    }
  }
  return out;
}

ResourcePools ResourcePools::reserved() const {
  ResourcePools out = *this;
  if (auto it = out.find("*"); it != out.pools_.end()) out.pools_.erase(it);
  return out;
}

bool ResourcePools::contains(const ResourcePools& other) const {
  for (const auto& [role, resources] : other.pools_) {
    if (!pool(role).contains(resources)) return false;
  }
  return true;
}

ResourcePools& ResourcePools::operator+=(const ResourcePools& other) {
  for (const auto& [role, resources] : other.pools_) {
    if (!resources.empty()) ensure(role) += resources;
  }
  return *this;
}

ResourcePools& ResourcePools::operator-=(const ResourcePools& other) {
  bool emptied = false;
  for (const auto& [role, resources] : other.pools_) {
    auto it = find(role);
    if (it == pools_.end()) continue;
    it->second -= resources;
    emptied |= it->second.empty();
  }
  if (emptied) drop_empty();
  return *this;
}

std::string ResourcePools::to_string() const {
  std::string out = pool("*").to_string();
  for (const auto& [role, resources] : pools_) {
    if (role == "*") continue;
    auto text = resources.to_string();
    for (auto part : parts_of(text)) {
      auto colon = part.find(':');
      if (!out.empty()) out += ';';
      out += fmt::format("{}({}){}", part.substr(0, colon), role, part.substr(colon));
    }
  }
  return out;
}

}  // namespace berth
