// The allocator's public face: agents, frameworks, roles and the accounting
// of what each client holds where (allocator.hpp). The round itself is in
// allocation_round.cpp, the role tree in role_tree.cpp.

#include <fmt/format.h>

#include "berth/common/roles.hpp"
#include "state.hpp"

namespace berth::master {

namespace {

// What of `wanted` `held` really holds: a - (a - b) is min(a, b) per scalar
// and the intersection of ranges and sets.
ResourcePools held_part(const ResourcePools& held, const ResourcePools& wanted) {
  return held - (held - wanted);
}

}  // namespace

Allocator::Allocator(AllocatorOptions options) : state_(std::make_unique<State>()) {
  state_->options = options;
  state_->rng.seed(options.seed != 0 ? options.seed : std::random_device{}());
}

Allocator::~Allocator() = default;

// ---- accounting ----

Client* Allocator::State::client(const std::string& framework_id, const std::string& role) {
  auto framework = frameworks.find(framework_id);
  if (framework == frameworks.end()) return nullptr;
  auto it = framework->second->clients.find(role);
  return it == framework->second->clients.end() ? nullptr : it->second.get();
}

ResourcePools* AgentState::held_by(const Client* client) {
  for (auto& [holder, resources] : held) {
    if (holder == client) return &resources;
  }
  return nullptr;
}

void Allocator::State::hold(AgentState& agent, Client& client, const ResourcePools& resources, int sign) {
  if (resources.empty()) return;
  const auto& unreserved = resources.pool("*");
  if (sign > 0) {
    if (ResourcePools* mine = agent.held_by(&client)) {
      *mine += resources;
    } else {
      agent.held.emplace_back(&client, resources);
    }
    agent.allocated += resources;
    agent.free -= resources;
    client.framework->agents.insert(&agent);
    unreserved_allocated += unreserved;
  } else {
    if (ResourcePools* mine = agent.held_by(&client)) {
      *mine -= resources;
      if (mine->empty()) std::erase_if(agent.held, [&](const auto& entry) { return entry.first == &client; });
    }
    agent.allocated -= resources;
    agent.free += resources;
    bool still = std::ranges::any_of(agent.held, [&](const auto& entry) {
      return entry.first->framework == client.framework;
    });
    if (!still) client.framework->agents.erase(&agent);
    unreserved_allocated -= unreserved;
  }
  // Most allocations are unreserved only: no sum of pools to build.
  if (resources.pools().size() == 1 && !unreserved.empty()) {
    account(client, unreserved, sign);
    return;
  }
  account(client, resources.total(), sign);
  // An allocated reservation stops counting as an unallocated one.
  for (const auto& [role, pool] : resources.pools()) {
    if (role == "*") continue;
    for (RoleNode* n = find(role); n != nullptr && n != &root; n = n->parent) {
      if (sign > 0) {
        n->unallocated_reservations -= pool;
      } else {
        n->unallocated_reservations += pool;
      }
    }
  }
}

void Allocator::State::set_agent_counted(AgentState& agent, bool counted) {
  int sign = counted ? 1 : -1;
  auto unreserved = agent.total.unreserved();
  if (counted) {
    total += agent.total.total();
    unreserved_total += unreserved;
  } else {
    total -= agent.total.total();
    unreserved_total -= unreserved;
  }
  for (const auto& [role, pool] : agent.total.pools()) {
    if (role == "*") continue;
    account_reserved(role, pool, agent.allocated.pool(role), sign);
  }
  orders_stale = true;
}

void Allocator::State::add_client(FrameworkState& framework, const std::string& role, bool suppressed) {
  RoleNode& holder = node(role);
  auto client = std::make_unique<Client>();
  client->framework = &framework;
  client->role = &holder;
  client->suppressed = suppressed;
  Client* raw = client.get();
  framework.clients.emplace(role, std::move(client));
  bool first = holder.clients.empty();
  holder.clients.emplace(framework.id, raw);
  if (!orders_stale) {
    holder.client_order.insert({raw->share, framework.id, raw});
    if (first) holder.order.insert({holder.self_share, holder.name, nullptr});
  }
  set_eligible(*raw, false, eligible(*raw));
}

void Allocator::State::remove_client(FrameworkState& framework, const std::string& role) {
  auto it = framework.clients.find(role);
  if (it == framework.clients.end()) return;
  Client& client = *it->second;
  for (AgentState* agent : std::set<AgentState*>(framework.agents)) {
    if (ResourcePools* held = agent->held_by(&client)) hold(*agent, client, ResourcePools(*held), -1);
  }
  set_eligible(client, eligible(client), false);
  RoleNode* holder = client.role;
  holder->client_order.erase({client.share, framework.id, &client});
  holder->clients.erase(framework.id);
  if (holder->clients.empty()) holder->order.erase({holder->self_share, holder->name, nullptr});
  std::erase_if(framework.filters, [&](const auto& filter) { return filter.first.first == role; });
  framework.clients.erase(it);
  prune(holder);
}

// ---- agents ----

void Allocator::add_agent(const std::string& agent_id, ResourcePools total) {
  if (has_agent(agent_id)) remove_agent(agent_id);
  auto agent = std::make_unique<AgentState>();
  agent->id = agent_id;
  agent->total = std::move(total);
  agent->free = agent->total;
  state_->set_agent_counted(*agent, true);
  state_->agents.emplace(agent_id, std::move(agent));
  state_->agent_order_stale = true;
}

void Allocator::remove_agent(const std::string& agent_id) {
  auto it = state_->agents.find(agent_id);
  if (it == state_->agents.end()) return;
  auto& agent = *it->second;
  for (auto [client, resources] : std::vector(agent.held)) state_->hold(agent, *client, resources, -1);
  state_->set_agent_counted(agent, false);
  for (auto& [id, framework] : state_->frameworks) {
    std::erase_if(framework->filters, [&](const auto& filter) { return filter.first.second == agent_id; });
  }
  state_->agents.erase(it);
  state_->agent_order_stale = true;
}

void Allocator::set_agent_active(const std::string& agent_id, bool active) {
  if (auto it = state_->agents.find(agent_id); it != state_->agents.end()) it->second->active = active;
}

bool Allocator::has_agent(const std::string& agent_id) const { return state_->agents.contains(agent_id); }

// ---- frameworks ----

void Allocator::add_framework(const std::string& framework_id, const std::set<std::string>& roles,
                              const std::set<std::string>& suppressed_roles) {
  if (state_->frameworks.contains(framework_id)) {
    update_framework(framework_id, roles, suppressed_roles);
    return;
  }
  auto framework = std::make_unique<FrameworkState>();
  framework->id = framework_id;
  auto& raw = *framework;
  state_->frameworks.emplace(framework_id, std::move(framework));
  for (const auto& role : roles) state_->add_client(raw, role, suppressed_roles.contains(role));
}

void Allocator::update_framework(const std::string& framework_id, const std::set<std::string>& roles,
                                 const std::set<std::string>& suppressed_roles) {
  auto it = state_->frameworks.find(framework_id);
  if (it == state_->frameworks.end()) {
    add_framework(framework_id, roles, suppressed_roles);
    return;
  }
  auto& framework = *it->second;
  std::vector<std::string> gone;
  for (const auto& [role, client] : framework.clients) {
    if (!roles.contains(role)) gone.push_back(role);
  }
  for (const auto& role : gone) state_->remove_client(framework, role);
  for (const auto& role : roles) {
    Client* client = state_->client(framework_id, role);
    if (client == nullptr) {
      state_->add_client(framework, role, suppressed_roles.contains(role));
      continue;
    }
    bool was = state_->eligible(*client);
    client->suppressed = suppressed_roles.contains(role);
    state_->set_eligible(*client, was, state_->eligible(*client));
  }
}

void Allocator::remove_framework(const std::string& framework_id) {
  auto it = state_->frameworks.find(framework_id);
  if (it == state_->frameworks.end()) return;
  std::vector<std::string> roles;
  for (const auto& [role, client] : it->second->clients) roles.push_back(role);
  for (const auto& role : roles) state_->remove_client(*it->second, role);
  state_->frameworks.erase(it);
}

void Allocator::set_framework_active(const std::string& framework_id, bool active) {
  auto it = state_->frameworks.find(framework_id);
  if (it == state_->frameworks.end()) return;
  auto& framework = *it->second;
  if (framework.active == active) return;
  framework.active = active;
  for (auto& [role, client] : framework.clients) state_->set_eligible(*client, !active && !client->suppressed,
                                                                       state_->eligible(*client));
}

void Allocator::suppress(const std::string& framework_id, const std::set<std::string>& roles) {
  auto it = state_->frameworks.find(framework_id);
  if (it == state_->frameworks.end()) return;
  for (auto& [role, client] : it->second->clients) {
    if (!roles.empty() && !roles.contains(role)) continue;
    bool was = state_->eligible(*client);
    client->suppressed = true;
    state_->set_eligible(*client, was, false);
  }
}

void Allocator::revive(const std::string& framework_id, const std::set<std::string>& roles) {
  auto it = state_->frameworks.find(framework_id);
  if (it == state_->frameworks.end()) return;
  auto& framework = *it->second;
  for (auto& [role, client] : framework.clients) {
    if (!roles.empty() && !roles.contains(role)) continue;
    bool was = state_->eligible(*client);
    client->suppressed = false;
    state_->set_eligible(*client, was, state_->eligible(*client));
    std::erase_if(framework.filters, [&](const auto& filter) { return filter.first.first == role; });
  }
}

// ---- accounting from the master ----

void Allocator::allocate_existing(const std::string& framework_id, const std::string& role,
                                  const std::string& agent_id, const ResourcePools& resources) {
  auto agent = state_->agents.find(agent_id);
  if (agent == state_->agents.end()) return;
  if (state_->client(framework_id, role) == nullptr) {
    // Tasks of a framework that has not (re)subscribed yet: it is known,
    // inactive, until it does.
    auto framework = state_->frameworks.find(framework_id);
    if (framework == state_->frameworks.end()) {
      add_framework(framework_id, {role});
      set_framework_active(framework_id, false);
    } else {
      state_->add_client(*framework->second, role, false);
    }
  }
  state_->hold(*agent->second, *state_->client(framework_id, role), resources, +1);
}

void Allocator::recover(const std::string& framework_id, const std::string& role, const std::string& agent_id,
                        const ResourcePools& resources, std::chrono::duration<double> refuse_for,
                        AllocatorClock::time_point now) {
  auto agent = state_->agents.find(agent_id);
  Client* client = state_->client(framework_id, role);
  if (agent == state_->agents.end() || client == nullptr) return;
  ResourcePools* held = agent->second->held_by(client);
  if (held == nullptr) return;
  auto released = held_part(*held, resources);
  state_->hold(*agent->second, *client, released, -1);
  if (refuse_for.count() > 0) {
    client->framework->filters[{role, agent_id}] = {
        resources, now + std::chrono::duration_cast<AllocatorClock::duration>(refuse_for)};
  }
}

// ---- roles ----

Result<void> Allocator::set_weight(const std::string& role, double weight) {
  BERTH_TRY_VOID(roles::validate(role));
  if (!(weight > 0) || weight > 1e9) return fail(fmt::format("role '{}': weight must be positive, not {}", role, weight));
  auto& holder = state_->node(role);
  holder.weight = weight;
  state_->reorder(holder);
  state_->prune(&holder);
  return {};
}

Result<void> Allocator::set_quota(const std::string& role, const Quota& quota) {
  BERTH_TRY_VOID(roles::validate(role));
  if (role == roles::kDefault) return fail("the default role '*' cannot have a quota");
  if (quota.guarantee.scalars() != quota.guarantee || quota.limit.scalars() != quota.limit) {
    return fail(fmt::format("role '{}': a quota holds scalar resources only", role));
  }
  std::string problem;
  quota.guarantee.each_scalar([&](std::string_view name, double amount) {
    auto limit = quota.limit.scalar(name);
    if (limit && *limit < amount && problem.empty()) {
      problem = fmt::format("role '{}': the limit of {} ({}) is below its guarantee ({})", role, name, *limit, amount);
    }
  });
  if (!problem.empty()) return fail(problem);
  auto& holder = state_->node(role);
  holder.quota = quota;
  state_->prune(&holder);
  return {};
}

// ---- rounds and introspection ----

std::vector<Allocation> Allocator::allocate(AllocatorClock::time_point now) { return state_->round(now); }

std::optional<RoleSummary> Allocator::role(const std::string& name) const {
  RoleNode* node = state_->find(name);
  if (node == nullptr || node == &state_->root) return std::nullopt;
  RoleSummary summary{node->name, node->weight, node->quota, node->allocated, node->consumed(), {}};
  for (const auto& [id, client] : node->clients) summary.frameworks.insert(id);
  return summary;
}

std::vector<RoleSummary> Allocator::roles() const {
  std::vector<RoleSummary> out;
  auto visit = [&](auto& self, const RoleNode& node) -> void {
    for (const auto& [name, child] : node.children) {
      out.push_back(*role(name));
      self(self, *child);
    }
  };
  visit(visit, state_->root);
  std::ranges::sort(out, {}, &RoleSummary::name);
  return out;
}

Resources Allocator::allocated(const std::string& framework_id, const std::string& role) const {
  Client* client = state_->client(framework_id, role);
  return client ? client->allocated : Resources{};
}

ResourcePools Allocator::allocated_on(const std::string& agent_id) const {
  auto it = state_->agents.find(agent_id);
  return it == state_->agents.end() ? ResourcePools{} : it->second->allocated;
}

Resources Allocator::cluster_total() const { return state_->total; }

double Allocator::dominant_share(const std::string& framework_id, const std::string& role) const {
  Client* client = state_->client(framework_id, role);
  return client ? master::dominant_share(client->allocated, state_->total) : 0;
}

}  // namespace berth::master
