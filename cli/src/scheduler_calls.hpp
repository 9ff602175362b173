#pragma once
// The scheduler Calls this framework sends, built from plain values.

#include <optional>
#include <string>
#include <vector>

#include "mesos/v1/scheduler.pb.h"

namespace berth::cli {

namespace v1 = berth::mesos::v1;
namespace sched = berth::mesos::v1::scheduler;

struct FrameworkSpec {
  std::string user;
  std::string name;
  std::string hostname;
  std::string role;
  double failover_timeout_s = 0;
  std::optional<v1::FrameworkID> id;  // set when re-subscribing
};

v1::FrameworkInfo framework_info(const FrameworkSpec& spec);

sched::Call subscribe_call(const v1::FrameworkInfo& info);
sched::Call accept_call(const v1::FrameworkID& framework, const v1::OfferID& offer, const v1::TaskInfo& task,
                        double refuse_seconds);
sched::Call decline_call(const v1::FrameworkID& framework, const std::vector<v1::OfferID>& offers,
                         double refuse_seconds);
sched::Call suppress_call(const v1::FrameworkID& framework, const std::string& role);
sched::Call kill_call(const v1::FrameworkID& framework, const v1::TaskID& task, const v1::AgentID& agent);
// Precondition: status.has_uuid(). `agent` stands in when the status names none.
sched::Call acknowledge_call(const v1::FrameworkID& framework, const v1::TaskStatus& status,
                             const v1::AgentID& agent);
sched::Call teardown_call(const v1::FrameworkID& framework);

}  // namespace berth::cli
