#include "scheduler_calls.hpp"

namespace berth::cli {
namespace {

sched::Call call_of(sched::Call::Type type, const v1::FrameworkID& framework) {
  sched::Call call;
  call.set_type(type);
  *call.mutable_framework_id() = framework;
  return call;
}

// Mesos accepts `roles` only from frameworks with the MULTI_ROLE capability, which
// this protocol does not carry: a single-role framework sets the deprecated `role`.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void set_single_role(v1::FrameworkInfo& info, const std::string& role) { info.set_role(role); }
#pragma GCC diagnostic pop

}  // namespace

v1::FrameworkInfo framework_info(const FrameworkSpec& spec) {
  v1::FrameworkInfo info;
  info.set_user(spec.user);
  info.set_name(spec.name);
  info.set_failover_timeout(spec.failover_timeout_s);
  if (!spec.hostname.empty()) info.set_hostname(spec.hostname);
  set_single_role(info, spec.role);
  // A partitioned agent then means TASK_UNREACHABLE, which berth run waits
  // through, rather than TASK_LOST, which would end it while the task runs on.
  info.add_capabilities()->set_type(v1::FrameworkInfo::Capability::PARTITION_AWARE);
  if (spec.id) *info.mutable_id() = *spec.id;
  return info;
}

sched::Call subscribe_call(const v1::FrameworkInfo& info) {
  sched::Call call;
  call.set_type(sched::Call::SUBSCRIBE);
  if (info.has_id()) *call.mutable_framework_id() = info.id();
  *call.mutable_subscribe()->mutable_framework_info() = info;
  return call;
}

sched::Call accept_call(const v1::FrameworkID& framework, const v1::OfferID& offer, const v1::TaskInfo& task,
                        double refuse_seconds) {
  auto call = call_of(sched::Call::ACCEPT, framework);
  auto* accept = call.mutable_accept();
  *accept->add_offer_ids() = offer;
  auto* operation = accept->add_operations();
  operation->set_type(v1::Offer::Operation::LAUNCH);
  *operation->mutable_launch()->add_task_infos() = task;
  accept->mutable_filters()->set_refuse_seconds(refuse_seconds);
  return call;
}

sched::Call decline_call(const v1::FrameworkID& framework, const std::vector<v1::OfferID>& offers,
                         double refuse_seconds) {
  auto call = call_of(sched::Call::DECLINE, framework);
  for (const auto& offer : offers) *call.mutable_decline()->add_offer_ids() = offer;
  call.mutable_decline()->mutable_filters()->set_refuse_seconds(refuse_seconds);
  return call;
}

sched::Call suppress_call(const v1::FrameworkID& framework, const std::string& role) {
  auto call = call_of(sched::Call::SUPPRESS, framework);
  call.mutable_suppress()->add_roles(role);
  return call;
}

sched::Call kill_call(const v1::FrameworkID& framework, const v1::TaskID& task, const v1::AgentID& agent) {
  auto call = call_of(sched::Call::KILL, framework);
  *call.mutable_kill()->mutable_task_id() = task;
  *call.mutable_kill()->mutable_agent_id() = agent;
  return call;
}

sched::Call acknowledge_call(const v1::FrameworkID& framework, const v1::TaskStatus& status,
                             const v1::AgentID& agent) {
  auto call = call_of(sched::Call::ACKNOWLEDGE, framework);
  auto* ack = call.mutable_acknowledge();
  *ack->mutable_agent_id() = status.has_agent_id() ? status.agent_id() : agent;
  *ack->mutable_task_id() = status.task_id();
  ack->set_uuid(status.uuid());
  return call;
}

sched::Call teardown_call(const v1::FrameworkID& framework) { return call_of(sched::Call::TEARDOWN, framework); }

}  // namespace berth::cli
