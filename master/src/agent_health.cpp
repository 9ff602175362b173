// Agent health, as Mesos judges it: an agent that sends no heartbeat for
// --agent_ping_timeout x --max_agent_ping_timeouts (whether its connection
// closed or just went quiet) is unreachable. Its offers are rescinded, its
// resources leave the allocator, and its tasks become TASK_UNREACHABLE for
// partition-aware frameworks and TASK_LOST for the others. Nothing is
// killed: an agent that comes back within --registry_max_agent_age brings
// its tasks back, and their frameworks hear of them again; one that does
// not is forgotten, and reconciliation then answers TASK_UNKNOWN.

#include <fmt/format.h>

#include "berth/common/clock.hpp"
#include "berth/common/log.hpp"
#include "master_process.hpp"

namespace berth::master {

namespace {

bool partition_aware(const std::map<std::string, FrameworkRecord>& frameworks, const std::string& framework_id) {
  auto it = frameworks.find(framework_id);
  return it != frameworks.end() && it->second.roles.partition_aware;
}

}  // namespace

void MasterProcess::check_agents(Clock::time_point now) {
  auto quiet_limit = std::chrono::duration<double>(flags_.agent_ping_timeout *
                                                   static_cast<double>(flags_.max_agent_ping_timeouts));
  auto max_age = std::chrono::duration<double>(flags_.registry_max_agent_age);
  std::vector<std::string> unreachable, forgotten;
  for (const auto& [id, agent] : agents_) {
    if (!agent.unreachable && now - agent.last_seen >= quiet_limit) unreachable.push_back(id);
    if (agent.unreachable && now - agent.unreachable_at >= max_age) forgotten.push_back(id);
  }
  for (const auto& id : unreachable) mark_unreachable(id, now);
  for (const auto& id : forgotten) {
    log::info("Forgetting agent {}: unreachable for longer than --registry_max_agent_age", id);
    std::erase_if(unreachable_tasks_, [&](const auto& entry) { return entry.second.agent_id == id; });
    agents_.erase(id);
  }
  if (!forgotten.empty()) save_agent_registry();
}

void MasterProcess::mark_unreachable(const std::string& agent_id, Clock::time_point now) {
  auto& agent = agents_.at(agent_id);
  log::warn("Agent {} at {} is unreachable: no heartbeat for {}s", agent_id, agent.info.hostname(),
            flags_.agent_ping_timeout * static_cast<double>(flags_.max_agent_ping_timeouts));
  metrics_.inc("berth_master_agents_unreachable_total");
  agent.unreachable = true;
  agent.unreachable_at = now;
  agent.connected = false;
  if (agent.stream) agent.stream->close();
  agent.stream.reset();
  rescind_offers({}, agent_id);
  allocator_.remove_agent(agent_id);
  // Rebuilt from its tasks if it comes back.
  std::erase_if(executors_, [&](const auto& entry) { return std::get<1>(entry.first) == agent_id; });

  std::vector<TaskKey> keys;
  for (const auto& [key, task] : tasks_) {
    if (task.agent_id == agent_id && !task.released) keys.push_back(key);
  }
  auto since = static_cast<std::int64_t>(now_seconds() * 1e9);
  for (const auto& key : keys) {
    auto task = std::move(tasks_.at(key));
    tasks_.erase(key);
    auto state = partition_aware(frameworks_, key.first) ? v1::TASK_UNREACHABLE : v1::TASK_LOST;
    auto status = master_status(task, state, v1::TaskStatus::REASON_AGENT_REMOVED,
                                fmt::format("agent {} is unreachable", agent_id));
    status.mutable_unreachable_time()->set_nanoseconds(since);
    task.latest = status;
    update_framework(key.first, status);
    unreachable_tasks_.emplace(key, std::move(task));
  }
}

// The agent registers again after it was unreachable: the tasks it still
// runs come back (reconcile_agent_tasks re-adds them); those it lost meanwhile
// are gone for good.
void MasterProcess::agent_returned(AgentRecord& agent) {
  log::info("Agent {} is reachable again after {:.0f}s", agent.id,
            std::chrono::duration<double>(Clock::now() - agent.unreachable_at).count());
  agent.unreachable = false;
}

}  // namespace berth::master
