// One allocation round (allocator.hpp): per agent, the quota stage, then the
// fair-share stage, each choosing clients by walking the role tree in DRF
// order.

#include <algorithm>
#include <functional>
#include <limits>

#include "state.hpp"

namespace berth::master {

namespace {

using Caps = std::map<std::string, double, std::less<>>;

void cap(Caps& caps, std::string_view name, double most) {
  auto it = caps.find(name);
  if (it == caps.end()) {
    caps.emplace(std::string(name), std::max(0.0, most));
  } else {
    it->second = std::min(it->second, std::max(0.0, most));
  }
}

void apply_caps(Resources& resources, const Caps& caps) {
  for (const auto& [name, most] : caps) {
    auto amount = resources.scalar(name);
    if (amount && *amount > most) resources.set_scalar(name, most);
  }
}

// What `node` still misses of its guarantee, per guaranteed kind.
Resources unmet(const RoleNode& node) {
  Resources out;
  node.quota.guarantee.each_scalar([&](std::string_view name, double guaranteed) {
    double consumed = node.allocated.scalar(name).value_or(0) + node.unallocated_reservations.scalar(name).value_or(0);
    if (consumed < guaranteed) out.set_scalar(name, guaranteed - consumed);
  });
  return out;
}

class Round {
 public:
  Round(Allocator::State& state, AllocatorClock::time_point now) : state_(state), now_(now) {
    auto collect = [&](auto& self, RoleNode& node) -> void {
      for (auto& [name, child] : node.children) {
        if (!child->quota.guarantee.empty()) {
          quota_roles_.push_back(child.get());  // its subroles count toward it
        } else {
          self(self, *child);
        }
      }
    };
    collect(collect, state_.root);
    refresh_headroom();
  }

  void visit(AgentState& agent) {
    if (agent.free.empty()) return;
    agent_ = &agent;
    free_ = agent.free;
    granted_.clear();
    quota_stage();
    fair_stage();
  }

  std::vector<Allocation> take() { return std::move(out_); }

 private:
  // The first eligible client, in DRF order, under `node` for which `offer`
  // finds something to give.
  Client* pick(RoleNode& node, const std::function<bool(Client&)>& offer) {
    for (const auto& entry : node.order) {
      if (entry.child == nullptr) {
        for (const auto& candidate : node.client_order) {
          if (state_.eligible(*candidate.client) && offer(*candidate.client)) return candidate.client;
        }
      } else if (entry.child->active_clients > 0) {
        if (Client* found = pick(*entry.child, offer)) return found;
      }
    }
    return nullptr;
  }

  RoleNode* quota_role_of(const RoleNode* node) const {
    for (const RoleNode* n = node; n != nullptr; n = n->parent) {
      for (RoleNode* q : quota_roles_) {
        if (q == n) return q;
      }
    }
    return nullptr;
  }

  // Limits of the role and every role above it.
  void cap_by_limits(const RoleNode& role, Caps& caps) const {
    for (const RoleNode* n = &role; n != &state_.root; n = n->parent) {
      if (n->quota.limit.empty()) continue;
      n->quota.limit.each_scalar([&](std::string_view name, double limit) {
        double consumed = n->allocated.scalar(name).value_or(0) + n->unallocated_reservations.scalar(name).value_or(0);
        cap(caps, name, limit - consumed);
      });
    }
  }

  // Unreserved resources given to a role must leave enough for the unmet
  // guarantees of the others; what counts toward its own is not held back.
  void cap_by_headroom(const RoleNode* own_quota_role, Caps& caps) const {
    if (required_.empty()) return;
    auto own = own_quota_role ? unmet(*own_quota_role) : Resources{};
    required_.each_scalar([&](std::string_view name, double required) {
      auto available = available_.scalar(name).value_or(0);
      cap(caps, name, available - required + own.scalar(name).value_or(0));
    });
  }

  bool filtered(Client& client, const ResourcePools& offer) {
    auto& filters = client.framework->filters;
    if (filters.empty()) return false;
    auto it = filters.find({client.role->name, agent_->id});
    if (it == filters.end()) return false;
    if (it->second.until <= now_) {
      filters.erase(it);
      return false;
    }
    return it->second.refused.contains(offer);
  }

  // Stage 1: the guaranteed kinds, up to what the quota role still misses;
  // other kinds only beyond the headroom, and only alongside those.
  bool quota_offer(Client& client, const RoleNode& quota_role, ResourcePools& offer) {
    offer = free_.allocatable_to(client.role->name);
    auto need = unmet(quota_role);
    auto unreserved = offer.unreserved();
    Caps caps;
    cap_by_limits(*client.role, caps);
    cap_by_headroom(&quota_role, caps);
    unreserved.each_scalar([&](std::string_view name, double) {
      if (auto wanted = need.scalar(name)) cap(caps, name, *wanted);
    });
    apply_caps(unreserved, caps);
    bool guaranteed = false;
    unreserved.each_scalar([&](std::string_view name, double) { guaranteed |= need.scalar(name).has_value(); });
    if (!guaranteed) return false;
    offer = ResourcePools(std::move(unreserved));  // reservations are already counted toward the quota
    return !filtered(client, offer);
  }

  // Stage 2: everything allocatable to the client's role, within limits and
  // headroom.
  bool fair_offer(Client& client, ResourcePools& offer) {
    offer = free_.allocatable_to(client.role->name);
    if (Resources* unreserved = offer.mutable_pool("*")) {
      Caps caps;
      cap_by_limits(*client.role, caps);
      cap_by_headroom(quota_role_of(client.role), caps);
      if (!caps.empty()) {
        apply_caps(*unreserved, caps);
        offer.drop_empty();
      }
    }
    return !offer.empty() && !filtered(client, offer);
  }

  void quota_stage() {
    for (RoleNode* quota_role : quota_roles_) {
      if (free_.pool("*").empty()) return;
      if (quota_role->active_clients == 0 || unmet(*quota_role).empty()) continue;
      ResourcePools offer;
      Client* client = pick(*quota_role, [&](Client& c) { return quota_offer(c, *quota_role, offer); });
      if (client != nullptr) grant(*client, std::move(offer));
    }
  }

  void fair_stage() {
    ResourcePools offer;
    while (!free_.pool("*").empty() && state_.root.active_clients > 0) {
      Client* client = pick(state_.root, [&](Client& c) { return fair_offer(c, offer); });
      if (client == nullptr) break;
      grant(*client, std::move(offer));
    }
    // What is left is reserved: only the reserving role's subtree may take it.
    std::vector<std::string> reserved_roles;
    for (const auto& [role, pool] : free_.pools()) {
      if (role != "*") reserved_roles.push_back(role);
    }
    for (const auto& role : reserved_roles) {
      RoleNode* node = state_.find(role);
      while (node != nullptr && node->active_clients > 0 && !free_.pool(role).empty()) {
        Client* client = pick(*node, [&](Client& c) { return fair_offer(c, offer); });
        if (client == nullptr) break;
        grant(*client, std::move(offer));
      }
    }
  }

  void grant(Client& client, ResourcePools offer) {
    state_.hold(*agent_, client, offer, +1);
    free_ -= offer;
    auto same = std::ranges::find(granted_, &client, &std::pair<Client*, std::size_t>::first);
    if (same != granted_.end()) {
      out_[same->second].resources += offer;
    } else {
      granted_.emplace_back(&client, out_.size());
      out_.push_back({client.framework->id, client.role->name, agent_->id, std::move(offer)});
    }
    if (!quota_roles_.empty()) refresh_headroom();
  }

  void refresh_headroom() {
    required_ = Resources{};
    for (RoleNode* quota_role : quota_roles_) required_ += unmet(*quota_role);
    // Only the kinds some guarantee still needs are held back.
    available_ = required_.empty() ? Resources{} : (state_.unreserved_total - state_.unreserved_allocated).scalars();
  }

  Allocator::State& state_;
  AllocatorClock::time_point now_;
  std::vector<RoleNode*> quota_roles_;  // top-most roles with a guarantee
  Resources available_;                 // unreserved and unallocated, cluster-wide
  Resources required_;                  // the unmet guarantees, cluster-wide
  AgentState* agent_ = nullptr;
  ResourcePools free_;
  std::vector<std::pair<Client*, std::size_t>> granted_;  // this agent's, into out_
  std::vector<Allocation> out_;
};

}  // namespace

std::vector<Allocation> Allocator::State::round(AllocatorClock::time_point now) {
  if (orders_stale) rebuild_orders();
  if (agent_order_stale) {
    agent_order.clear();
    for (auto& [id, agent] : agents) agent_order.push_back(agent.get());
    agent_order_stale = false;
  }
  if (options.shuffle_agents) std::shuffle(agent_order.begin(), agent_order.end(), rng);
  if (root.active_clients == 0) return {};
  Round round(*this, now);
  for (AgentState* agent : agent_order) {
    if (agent->active) round.visit(*agent);
  }
  return round.take();
}

}  // namespace berth::master
