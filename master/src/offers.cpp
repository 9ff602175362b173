// Offers: what an allocation round gives becomes an OFFERS event per
// framework, one offer per agent and role; an offer ends when it is used,
// declined, rescinded or times out, and what it held goes back to the
// allocator.

#include <fmt/format.h>

#include "berth/common/log.hpp"
#include "master_process.hpp"

namespace berth::master {

namespace {

bool open(const std::shared_ptr<http::Stream>& stream) { return stream && stream->is_open(); }

}  // namespace

// Only between parties whose event streams are open: a (re)subscribing
// framework or (re)registering agent is active in the allocator only once its
// stream is, but a stream may close between the round and here, and an offer
// sent into no stream would be lost while its resources stayed allocated.
void MasterProcess::make_offers(std::vector<Allocation> allocations) {
  auto now = Clock::now();
  std::map<std::string, sched::Event> events;
  for (auto& allocation : allocations) {
    auto framework = frameworks_.find(allocation.framework_id);
    auto agent = agents_.find(allocation.agent_id);
    if (framework == frameworks_.end() || agent == agents_.end() || !open(framework->second.stream) ||
        !open(agent->second.stream)) {
      allocator_.recover(allocation.framework_id, allocation.role, allocation.agent_id, allocation.resources);
      continue;
    }
    auto& f = framework->second;
    auto& a = agent->second;
    OfferRecord record{next_id('O'), f.id, allocation.role, a.id, std::move(allocation.resources), now};

    auto& event = events[f.id];
    event.set_type(sched::Event::OFFERS);
    auto* offer = event.mutable_offers()->add_offers();
    offer->mutable_id()->set_value(record.id);
    offer->mutable_framework_id()->set_value(f.id);
    offer->mutable_agent_id()->set_value(a.id);
    offer->set_hostname(a.info.hostname());
    // Mesos tags offered resources with their allocation role for MULTI_ROLE
    // frameworks only; the others know their single role.
    auto format = f.roles.reservation_refinement ? ResourcePools::Format::post_refinement
                                                 : ResourcePools::Format::pre_refinement;
    *offer->mutable_resources() = record.resources.to_proto(format, f.roles.multi_role ? record.role : "");
    if (f.roles.multi_role) offer->mutable_allocation_info()->set_role(record.role);
    *offer->mutable_attributes() = a.info.attributes();
    auto* url = offer->mutable_url();
    url->set_scheme("http");
    url->mutable_address()->set_hostname(a.info.hostname());
    url->mutable_address()->set_ip(a.ip);
    url->mutable_address()->set_port(a.info.port());
    url->set_path("/slave(1)");
    // The framework's task-group executors running on the agent, as Mesos lists them.
    for (auto it = executors_.lower_bound({f.id, a.id, ""});
         it != executors_.end() && std::get<0>(it->first) == f.id && std::get<1>(it->first) == a.id; ++it) {
      offer->add_executor_ids()->set_value(std::get<2>(it->first));
    }
    offers_.emplace(record.id, std::move(record));
    metrics_.inc("berth_master_offers_sent_total");
  }
  for (auto& [framework_id, event] : events) {
    log::debug("Sending {} offer(s) to framework {}", event.offers().offers_size(), framework_id);
    send(frameworks_.at(framework_id), event);
  }
}

void MasterProcess::remove_offer(const std::string& offer_id, bool rescind, double refuse_seconds) {
  auto it = offers_.find(offer_id);
  if (it == offers_.end()) return;
  auto offer = std::move(it->second);
  offers_.erase(it);
  allocator_.recover(offer.framework_id, offer.role, offer.agent_id, offer.resources,
                     std::chrono::duration<double>(refuse_seconds));
  auto framework = frameworks_.find(offer.framework_id);
  if (rescind && framework != frameworks_.end()) {
    sched::Event event;
    event.set_type(sched::Event::RESCIND);
    event.mutable_rescind()->mutable_offer_id()->set_value(offer.id);
    send(framework->second, event);
  }
  request_allocation();
}

void MasterProcess::rescind_offers(const std::string& framework_id, const std::string& agent_id) {
  std::vector<std::string> ids;
  for (auto& [id, offer] : offers_) {
    if ((framework_id.empty() || offer.framework_id == framework_id) &&
        (agent_id.empty() || offer.agent_id == agent_id)) {
      ids.push_back(id);
    }
  }
  for (const auto& id : ids) remove_offer(id, true);
}

void MasterProcess::expire_offers(Clock::time_point now) {
  if (flags_.offer_timeout <= 0) return;
  std::vector<std::string> stale;
  for (auto& [id, offer] : offers_) {
    if (now - offer.created >= std::chrono::duration<double>(flags_.offer_timeout)) stale.push_back(id);
  }
  for (const auto& id : stale) {
    log::info("Offer {} to framework {} timed out", id, offers_.at(id).framework_id);
    remove_offer(id, true);
  }
}

}  // namespace berth::master
