#pragma once
// The master's allocator: which framework is offered what, and when.
//
// Hierarchical weighted Dominant Resource Fairness (Ghodsi et al., NSDI 2011;
// Mesos's hierarchical allocator): roles form a tree by their names ("eng",
// "eng/web"); at each level the child with the lowest dominant share divided
// by its weight goes first, and within a role the framework with the lowest
// dominant share of what it holds in that role. A framework may subscribe to
// several roles and is then a separate client in each.
//
// A round visits every agent that has something free and gives it out in
// two stages:
//   1. quota: roles whose guarantee is not yet met get, from this agent, the
//      guaranteed kinds up to what they still miss;
//   2. fair share: the rest goes, in DRF order, to the first client that may
//      take it. What one client takes never eats into the headroom the
//      unmet guarantees of other roles still need, and never takes a role
//      (or a role above it) over its quota limit.
// A client is skipped while its framework is inactive, while it suppressed
// that role, and on an agent where its framework refused (DECLINE or an
// ACCEPT that left some unused) at least what is free now, until the filter
// expires.
//
// Resources reserved for a role go only to that role and its subroles, and
// count toward the role's quota consumption whether allocated or not.
//
// Nothing here does I/O: the master feeds in what happens (agents, frameworks,
// offers accepted, declined or rescinded, tasks ended) and turns the returned
// allocations into offers. Single-threaded, like the master's event loop.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/resource_pools.hpp"
#include "berth/common/resources.hpp"

namespace berth::master {

using AllocatorClock = std::chrono::steady_clock;

// Scalar amounts only; a kind absent from `limit` is not limited.
struct Quota {
  Resources guarantee;
  Resources limit;
  bool operator==(const Quota&) const = default;
};

// What a round gives: an offer to make, already counted as allocated.
struct Allocation {
  std::string framework_id;
  std::string role;
  std::string agent_id;
  ResourcePools resources;
};

struct AllocatorOptions {
  // Agents are visited in a new random order each round (as in Mesos), so
  // that no agent is always the first to fill; tests fix the order.
  bool shuffle_agents = true;
  unsigned seed = 0;  // 0: random
};

// A role as /roles and the tests see it.
struct RoleSummary {
  std::string name;
  double weight = 1;
  Quota quota;
  Resources allocated;  // offered or in use, this role and its subroles
  Resources consumed;   // allocated plus unallocated reservations, for quota
  std::set<std::string> frameworks;  // subscribed to exactly this role
};

class Allocator {
 public:
  explicit Allocator(AllocatorOptions options = {});
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // Agents. An agent is added with nothing allocated; allocate_existing()
  // then records what its running tasks hold. An inactive agent is offered
  // nothing.
  void add_agent(const std::string& agent_id, ResourcePools total);
  void remove_agent(const std::string& agent_id);
  void set_agent_active(const std::string& agent_id, bool active);
  bool has_agent(const std::string& agent_id) const;

  // Frameworks: their roles (validated by the caller) and the roles they
  // subscribe suppressed. Updating keeps allocations in roles it keeps.
  void add_framework(const std::string& framework_id, const std::set<std::string>& roles,
                     const std::set<std::string>& suppressed_roles = {});
  void update_framework(const std::string& framework_id, const std::set<std::string>& roles,
                        const std::set<std::string>& suppressed_roles);
  // Its allocations are released (the caller rescinds offers and kills tasks).
  void remove_framework(const std::string& framework_id);
  void set_framework_active(const std::string& framework_id, bool active);
  // An empty `roles` means all of the framework's roles. REVIVE also drops
  // the framework's filters on those roles.
  void suppress(const std::string& framework_id, const std::set<std::string>& roles);
  void revive(const std::string& framework_id, const std::set<std::string>& roles);

  // Accounting. allocate_existing: resources held outside an offer round
  // (tasks found on a re-registering agent). recover: resources given back
  // (an offer declined, rescinded or partly used, a task ended); with
  // `refuse_for` > 0 the framework is not offered that much again on that
  // agent for that long.
  void allocate_existing(const std::string& framework_id, const std::string& role, const std::string& agent_id,
                         const ResourcePools& resources);
  void recover(const std::string& framework_id, const std::string& role, const std::string& agent_id,
               const ResourcePools& resources, std::chrono::duration<double> refuse_for = {},
               AllocatorClock::time_point now = AllocatorClock::now());

  // Roles. Weights are positive; a quota's limit must not be below its
  // guarantee. Setting a default quota (empty) removes it.
  Result<void> set_weight(const std::string& role, double weight);
  Result<void> set_quota(const std::string& role, const Quota& quota);

  // One round over every agent.
  std::vector<Allocation> allocate(AllocatorClock::time_point now = AllocatorClock::now());

  // Introspection.
  std::optional<RoleSummary> role(const std::string& name) const;
  std::vector<RoleSummary> roles() const;  // every known role, by name
  // What a framework holds in a role (offered or in use), all agents.
  Resources allocated(const std::string& framework_id, const std::string& role) const;
  ResourcePools allocated_on(const std::string& agent_id) const;
  Resources cluster_total() const;
  double dominant_share(const std::string& framework_id, const std::string& role) const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// max over the scalar kinds of `total` of allocated/total.
double dominant_share(const Resources& allocated, const Resources& total);

}  // namespace berth::master
