#include "offer_match.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace berth::cli {
namespace {

// Offers are sums of decimals like 0.1 + 0.2: compare with a tolerance far below
// Mesos's own resolution of 0.001.
constexpr double kEpsilon = 1e-6;

struct Wanted {
  std::string_view name;
  double amount;
};

std::vector<Wanted> wanted(const Ask& ask) {
  std::vector<Wanted> out{{"cpus", ask.cpus}, {"mem", ask.mem_mb}};
  if (ask.disk_mb > 0) out.push_back({"disk", ask.disk_mb});
  return out;
}

std::string join(const std::vector<Wanted>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ';';
    out += fmt::format("{}:{:g}", item.name, item.amount);
  }
  return out;
}

// A copy of `offered` holding `amount`: whatever else it carries (its role) stays.
v1::Resource piece_of(const v1::Resource& offered, double amount) {
  v1::Resource piece = offered;
  piece.mutable_scalar()->set_value(amount);
  return piece;
}

// The offered ports resource that holds `port`, if any.
const v1::Resource* ports_holding(const ResourceList& resources, std::uint64_t port) {
  for (const auto& resource : resources) {
    if (resource.name() != "ports" || resource.type() != v1::Value::RANGES) continue;
    for (const auto& range : resource.ranges().range()) {
      if (port >= range.begin() && port <= range.end()) return &resource;
    }
  }
  return nullptr;
}

std::string port_list(const std::vector<std::uint64_t>& ports) {
  std::string out;
  for (auto port : ports) out += (out.empty() ? "" : ",") + std::to_string(port);
  return ";ports:[" + out + "]";
}

}  // namespace

std::string describe(const Ask& ask) { return join(wanted(ask)) + (ask.ports.empty() ? "" : port_list(ask.ports)); }

std::string describe_offered(const ResourceList& resources, const Ask& ask) {
  auto items = wanted(ask);
  for (auto& item : items) item.amount = scalar_total(resources, item.name);
  if (ask.ports.empty()) return join(items);
  std::vector<std::uint64_t> held;
  for (auto port : ask.ports) {
    if (ports_holding(resources, port)) held.push_back(port);
  }
  return join(items) + port_list(held);
}

double scalar_total(const ResourceList& resources, std::string_view name) {
  double total = 0;
  for (const auto& resource : resources) {
    if (resource.name() == name && resource.type() == v1::Value::SCALAR) total += resource.scalar().value();
  }
  return total;
}

bool fits(const v1::Offer& offer, const Ask& ask) {
  return std::ranges::all_of(wanted(ask),
                             [&](const Wanted& item) {
                               return scalar_total(offer.resources(), item.name) + kEpsilon >= item.amount;
                             }) &&
         std::ranges::all_of(ask.ports, [&](std::uint64_t port) { return ports_holding(offer.resources(), port); });
}

std::optional<int> first_fit(const OfferList& offers, const Ask& ask) {
  for (int i = 0; i < offers.size(); ++i) {
    if (fits(offers.Get(i), ask)) return i;
  }
  return std::nullopt;
}

std::vector<v1::Resource> take_resources(const v1::Offer& offer, const Ask& ask) {
  std::vector<v1::Resource> taken;
  for (const auto& item : wanted(ask)) {
    double remaining = item.amount;
    for (const auto& resource : offer.resources()) {
      if (remaining <= kEpsilon) break;
      if (resource.name() != item.name || resource.type() != v1::Value::SCALAR) continue;
      double piece = std::min(remaining, resource.scalar().value());
      if (piece <= 0) continue;
      taken.push_back(piece_of(resource, piece));
      remaining -= piece;
    }
  }
  for (auto port : ask.ports) {
    v1::Resource piece = *ports_holding(offer.resources(), port);
    piece.mutable_ranges()->clear_range();
    auto* range = piece.mutable_ranges()->add_range();
    range->set_begin(port);
    range->set_end(port);
    taken.push_back(std::move(piece));
  }
  return taken;
}

double coverage(const v1::Offer& offer, const Ask& ask) {
  auto items = wanted(ask);
  double sum = 0;
  for (const auto& item : items) {
    sum += std::min(1.0, scalar_total(offer.resources(), item.name) / item.amount);
  }
  if (!ask.ports.empty()) {
    auto held = std::ranges::count_if(ask.ports, [&](std::uint64_t port) { return ports_holding(offer.resources(), port); });
    sum += static_cast<double>(held) / static_cast<double>(ask.ports.size());
    return sum / static_cast<double>(items.size() + 1);
  }
  return sum / static_cast<double>(items.size());
}

void BestOffer::consider(const v1::Offer& offer, const Ask& ask) {
  ++seen_;
  double c = coverage(offer, ask);
  if (c <= best_coverage_) return;
  best_coverage_ = c;
  best_ = offer;
}

std::string BestOffer::timeout_message(const Ask& ask, double timeout_s) const {
  std::string head = fmt::format("no offer satisfied {} within {:g} s", describe(ask), timeout_s);
  if (!best_) return head + "; no offers were received (are any agents registered?)";
  return fmt::format("{}; the best of {} offer(s) (agent {} on {}) had {}", head, seen_,
                     best_->agent_id().value(), best_->hostname(),
                     describe_offered(best_->resources(), ask));
}

}  // namespace berth::cli
