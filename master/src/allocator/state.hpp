#pragma once
// The allocator's bookkeeping (allocator.hpp): the role tree with its DRF
// orders, the frameworks as clients in their roles, and the agents with what
// each client holds on them.

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "berth/master/allocator.hpp"

namespace berth::master {

struct RoleNode;
struct FrameworkState;
struct AgentState;

// A framework in one of its roles: what DRF orders within a role.
struct Client {
  FrameworkState* framework = nullptr;
  RoleNode* role = nullptr;
  Resources allocated;  // in this role, every agent
  double share = 0;     // dominant share of `allocated`, as ordered
  bool suppressed = false;
};

// An entry of a role's DRF order: a subrole, or the role's own clients
// taken together (`child` null), which compete with its subroles as one.
struct OrderEntry {
  double share;
  std::string_view name;
  RoleNode* child;
  bool operator<(const OrderEntry& other) const {
    if (share != other.share) return share < other.share;
    if ((child == nullptr) != (other.child == nullptr)) return child != nullptr;  // subroles before self
    return name < other.name;
  }
};

struct ClientEntry {
  double share;
  std::string_view framework_id;
  Client* client;
  bool operator<(const ClientEntry& other) const {
    if (share != other.share) return share < other.share;
    return framework_id < other.framework_id;
  }
};

struct RoleNode {
  std::string name;  // full path; empty for the root
  RoleNode* parent = nullptr;
  std::map<std::string, std::unique_ptr<RoleNode>, std::less<>> children;  // by full name
  double weight = 1;
  Quota quota;
  Resources allocated;       // this role and its subroles, every pool
  Resources self_allocated;  // clients of exactly this role
  Resources reserved;        // reservations for exactly this role, every agent
  Resources unallocated_reservations;  // this role and its subroles
  std::map<std::string, Client*, std::less<>> clients;  // by framework id
  int active_clients = 0;    // eligible clients here and below
  // As ordered in the parent (weighted) and in this role's own order.
  double share = 0;
  double self_share = 0;
  std::set<OrderEntry> order;
  std::set<ClientEntry> client_order;

  bool has_quota() const { return !quota.guarantee.empty() || !quota.limit.empty(); }
  Resources consumed() const { return allocated + unallocated_reservations; }
};

struct Filter {
  ResourcePools refused;
  AllocatorClock::time_point until;
};

struct FrameworkState {
  std::string id;
  bool active = true;
  std::map<std::string, std::unique_ptr<Client>, std::less<>> clients;  // by role
  std::map<std::pair<std::string, std::string>, Filter> filters;         // (role, agent id)
  std::set<AgentState*> agents;  // where it holds something
};

struct AgentState {
  std::string id;
  ResourcePools total;
  ResourcePools allocated;
  ResourcePools free;  // total - allocated, kept so that a round need not compute it
  bool active = true;
  // What each client holds here; a few entries, looked up by client.
  std::vector<std::pair<Client*, ResourcePools>> held;
  ResourcePools* held_by(const Client* client);
};

struct Allocator::State {
  AllocatorOptions options;
  std::mt19937 rng;
  RoleNode root;
  std::map<std::string, std::unique_ptr<FrameworkState>, std::less<>> frameworks;
  std::map<std::string, std::unique_ptr<AgentState>, std::less<>> agents;
  std::vector<AgentState*> agent_order;  // rebuilt when agents come or go
  bool agent_order_stale = true;
  Resources total;                // active agents, every pool
  Resources unreserved_total;     // active agents
  Resources unreserved_allocated;
  bool orders_stale = true;       // `total` changed: every share must be recomputed

  // role_tree.cpp
  RoleNode& node(const std::string& role);  // created with its ancestors
  RoleNode* find(std::string_view role);
  void prune(RoleNode* node);               // removes it and empty ancestors if nothing refers to them
  bool eligible(const Client& client) const;
  void set_eligible(Client& client, bool was, bool now);
  // Adds `delta` (possibly negative, as `sign`) to a client's allocation, its
  // role and every ancestor, keeping the orders.
  void account(Client& client, const Resources& delta, int sign);
  void account_reserved(const std::string& role, const Resources& reserved, const Resources& allocated, int sign);
  void rebuild_orders();
  void reorder(RoleNode& node);
  void reorder_client(Client& client);
  double weighted_share(const RoleNode& node) const;

  // allocator.cpp
  Client* client(const std::string& framework_id, const std::string& role);
  void hold(AgentState& agent, Client& client, const ResourcePools& resources, int sign);
  void add_client(FrameworkState& framework, const std::string& role, bool suppressed);
  void remove_client(FrameworkState& framework, const std::string& role);
  void set_agent_counted(AgentState& agent, bool counted);

  // allocation_round.cpp
  std::vector<Allocation> round(AllocatorClock::time_point now);
};

}  // namespace berth::master
