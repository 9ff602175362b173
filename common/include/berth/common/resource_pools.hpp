#pragma once
// An agent's or a task's resources split by the role they are reserved for
// (Mesos static reservations: "cpus:4;cpus(eng):2;mem(eng/web):512"). The
// pool of "*" holds what is unreserved. Resources reserved for a role may
// go to that role and to its subroles ("eng" to "eng/web"), as in Mesos.

#include <utility>
#include <vector>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/common/resources.hpp"

namespace berth {

class ResourcePools {
 public:
  // How offered resources name their reservation: frameworks without the
  // RESERVATION_REFINEMENT capability read `role`, the others `reservations`.
  enum class Format { pre_refinement, post_refinement };

  ResourcePools() = default;
  explicit ResourcePools(Resources unreserved);

  // Mesos's text form with an optional "(role)" after a name. Errors name
  // the resource or the role.
  static Result<ResourcePools> parse(std::string_view text);
  // Mesos's JSON form: an array of Resource objects.
  static Result<ResourcePools> parse_json(std::string_view json);
  // The reservation's role is the last of `reservations`, else `role`.
  static Result<ResourcePools> from_proto(const Resources::Protos& resources);
  // Each resource with its reservation in `format`, and allocation_info.role
  // set to `allocated_to` when that is not empty.
  Resources::Protos to_proto(Format format, std::string_view allocated_to = {}) const;

  // By role; most hold one pool, so a sorted vector rather than a tree.
  using Pools = std::vector<std::pair<std::string, Resources>>;

  bool empty() const { return pools_.empty(); }
  const Pools& pools() const { return pools_; }
  // Empty when the role holds nothing.
  const Resources& pool(std::string_view role) const;
  // For changes in place; null when the role holds nothing. A pool left
  // empty must be dropped with drop_empty().
  Resources* mutable_pool(std::string_view role);
  void drop_empty();
  Resources unreserved() const { return pool("*"); }
  // Every pool together.
  Resources total() const;
  // What a framework in `role` may be offered: the unreserved pool and the
  // pools reserved for `role` or a role above it.
  ResourcePools allocatable_to(std::string_view role) const;
  // Only the reserved pools.
  ResourcePools reserved() const;

  bool contains(const ResourcePools& other) const;
  ResourcePools& operator+=(const ResourcePools& other);
  ResourcePools& operator-=(const ResourcePools& other);
  friend ResourcePools operator+(ResourcePools a, const ResourcePools& b) { return a += b; }
  friend ResourcePools operator-(ResourcePools a, const ResourcePools& b) { return a -= b; }
  bool operator==(const ResourcePools&) const = default;

  // "cpus:4;mem:1024;cpus(eng):2", unreserved first.
  std::string to_string() const;

 private:
  Pools::iterator find(std::string_view role);
  Pools::const_iterator find(std::string_view role) const;
  Resources& ensure(std::string_view role);  // the role's pool, created empty if absent

  Pools pools_;  // sorted by role; no empty pool once an operation is done
};

}  // namespace berth
