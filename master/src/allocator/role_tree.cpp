// The role tree and its DRF orders (state.hpp). Every change to an
// allocation moves the client and each role above it to its new place; a
// change of the cluster's total changes every share, so the orders are then
// rebuilt once, before the next round, instead.

#include <algorithm>

#include "berth/common/roles.hpp"
#include "state.hpp"

namespace berth::master {

double dominant_share(const Resources& allocated, const Resources& total) {
  double share = 0;
  if (allocated.empty()) return share;
  total.each_scalar([&](std::string_view name, double amount) {
    if (amount > 0) share = std::max(share, allocated.scalar(name).value_or(0) / amount);
  });
  return share;
}

double Allocator::State::weighted_share(const RoleNode& node) const {
  return master::dominant_share(node.allocated, total) / node.weight;
}

RoleNode* Allocator::State::find(std::string_view role) {
  RoleNode* at = &root;
  for (const auto& prefix : roles::path(role)) {
    auto it = at->children.find(prefix);
    if (it == at->children.end()) return nullptr;
    at = it->second.get();
  }
  return at;
}

RoleNode& Allocator::State::node(const std::string& role) {
  RoleNode* at = &root;
  for (auto& prefix : roles::path(role)) {
    auto it = at->children.find(prefix);
    if (it == at->children.end()) {
      auto child = std::make_unique<RoleNode>();
      child->name = prefix;
      child->parent = at;
      RoleNode* raw = child.get();
      it = at->children.emplace(std::move(prefix), std::move(child)).first;
      if (!orders_stale) at->order.insert({raw->share, raw->name, raw});
    }
    at = it->second.get();
  }
  return *at;
}

void Allocator::State::prune(RoleNode* node) {
  while (node != &root && node->clients.empty() && node->children.empty() && node->weight == 1 &&
         !node->has_quota() && node->reserved.empty() && node->allocated.empty() &&
         node->unallocated_reservations.empty()) {
    RoleNode* parent = node->parent;
    parent->order.erase({node->share, node->name, node});
    parent->children.erase(node->name);
    node = parent;
  }
}

bool Allocator::State::eligible(const Client& client) const {
  return client.framework->active && !client.suppressed;
}

void Allocator::State::set_eligible(Client& client, bool was, bool now) {
  if (was == now) return;
  for (RoleNode* n = client.role; n != nullptr; n = n->parent) n->active_clients += now ? 1 : -1;
}

void Allocator::State::reorder(RoleNode& node) {
  if (orders_stale || node.parent == nullptr) {
    node.share = weighted_share(node);
    return;
  }
  // Moved within the set without allocating: extract, change, reinsert.
  auto& siblings = node.parent->order;
  auto entry = siblings.extract({node.share, node.name, &node});
  node.share = weighted_share(node);
  if (entry.empty()) {
    siblings.insert({node.share, node.name, &node});
  } else {
    entry.value().share = node.share;
    siblings.insert(std::move(entry));
  }
}

void Allocator::State::reorder_client(Client& client) {
  RoleNode& role = *client.role;
  if (orders_stale) {
    client.share = master::dominant_share(client.allocated, total);
    role.self_share = master::dominant_share(role.self_allocated, total);
    return;
  }
  auto entry = role.client_order.extract({client.share, client.framework->id, &client});
  client.share = master::dominant_share(client.allocated, total);
  if (entry.empty()) {
    role.client_order.insert({client.share, client.framework->id, &client});
  } else {
    entry.value().share = client.share;
    role.client_order.insert(std::move(entry));
  }
  auto self = role.order.extract({role.self_share, role.name, nullptr});
  role.self_share = master::dominant_share(role.self_allocated, total);
  if (!self.empty()) {
    self.value().share = role.self_share;
    role.order.insert(std::move(self));
  } else if (!role.clients.empty()) {
    role.order.insert({role.self_share, role.name, nullptr});
  }
}

void Allocator::State::account(Client& client, const Resources& delta, int sign) {
  auto apply = [&](Resources& to) {
    if (sign > 0) {
      to += delta;
    } else {
      to -= delta;
    }
  };
  apply(client.allocated);
  apply(client.role->self_allocated);
  reorder_client(client);
  for (RoleNode* n = client.role; n != &root; n = n->parent) {
    apply(n->allocated);
    reorder(*n);
  }
}

void Allocator::State::account_reserved(const std::string& role, const Resources& reserved,
                                        const Resources& allocated, int sign) {
  RoleNode& holder = node(role);
  if (sign > 0) {
    holder.reserved += reserved;
  } else {
    holder.reserved -= reserved;
  }
  // Reservations count toward quota until allocated, and then as allocations.
  auto unallocated = reserved - allocated;
  for (RoleNode* n = &holder; n != &root; n = n->parent) {
    if (sign > 0) {
      n->unallocated_reservations += unallocated;
    } else {
      n->unallocated_reservations -= unallocated;
    }
  }
  if (sign < 0) prune(&holder);
}

void Allocator::State::rebuild_orders() {
  orders_stale = false;
  auto rebuild = [&](auto& self, RoleNode& node) -> void {
    node.order.clear();
    node.client_order.clear();
    for (auto& [name, child] : node.children) {
      self(self, *child);
      child->share = weighted_share(*child);
      node.order.insert({child->share, child->name, child.get()});
    }
    for (auto& [id, client] : node.clients) {
      client->share = master::dominant_share(client->allocated, total);
      node.client_order.insert({client->share, client->framework->id, client});
    }
    if (!node.clients.empty()) {
      node.self_share = master::dominant_share(node.self_allocated, total);
      node.order.insert({node.self_share, node.name, nullptr});
    }
  };
  rebuild(rebuild, root);
}

}  // namespace berth::master
