// The agent protocol (proto/berth/agent.proto): POST /api/v1/agent.

#include <fmt/format.h>

#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/task_state.hpp"
#include "master_process.hpp"
#include "request.hpp"

namespace berth::master {
namespace {

constexpr std::string_view kAgentIdHeader = "Berth-Agent-Id";

std::string validate_agent_info(const v1::AgentInfo& info) {
  if (info.hostname().empty()) return "'agent_info.hostname' must be set";
  if (info.port() <= 0 || info.port() > 65535) return "'agent_info.port' must be a TCP port";
  if (info.has_id() && !ids::is_safe_path_component(info.id().value())) {
    return "'agent_info.id' '" + info.id().value() + "' is not a valid id";
  }
  return {};
}

// The allocation role of a task an agent reports: what the master wrote into
// its resources when it launched it, else its framework's single role.
std::string task_role(const agent::RunningTask& running) {
  for (const auto& resource : running.task().resources()) {
    if (resource.has_allocation_info() && resource.allocation_info().has_role()) {
      return resource.allocation_info().role();
    }
  }
  if (running.has_framework()) {
    if (auto roles = framework_roles(running.framework()); roles && roles->roles.size() == 1) {
      return *roles->roles.begin();
    }
  }
  return "*";
}

}  // namespace

asio::awaitable<void> MasterProcess::handle_agent(http::Exchange& exchange) {
  auto parsed = parse_call<agent::Call>(exchange.request());
  if (!parsed) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(parsed.error()));
    co_return;
  }
  auto& [call, negotiated] = *parsed;
  if (call.type() == agent::Call::REGISTER) {
    co_await register_agent(exchange, std::move(call), negotiated);
    co_return;
  }
  std::string agent_id(exchange.request()[kAgentIdHeader]);
  if (agent_id.empty() && call.has_agent_id()) agent_id = call.agent_id().value();
  auto it = agents_.find(agent_id);
  if (agent_id.empty() || it == agents_.end() || !it->second.connected) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(
        {http::Status::forbidden, "Agent '" + agent_id + "' is not registered"}));
    co_return;
  }
  auto& agent = it->second;
  agent.last_seen = Clock::now();
  Result<void> result;
  switch (call.type()) {
    case agent::Call::HEARTBEAT:
      break;
    case agent::Call::STATUS_UPDATE:
      result = status_update(agent, call.status_update());
      break;
    case agent::Call::UNREGISTER:
      remove_agent(agent_id, v1::TASK_LOST, v1::TaskStatus::REASON_AGENT_REMOVED, "agent unregistered");
      break;
    default:
      result = fail("unsupported agent call type " + agent::Call::Type_Name(call.type()));
  }
  if (!result) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response({http::Status::bad_request, result.error().what()}));
    co_return;
  }
  co_await exchange.respond(http::make_response(http::Status::accepted, ""));
}

asio::awaitable<void> MasterProcess::register_agent(http::Exchange& exchange, agent::Call call,
                                                    Negotiated negotiated) {
  auto format = negotiated.response_format;
  auto& registration = *call.mutable_register_();
  auto& info = *registration.mutable_agent_info();
  auto problem = validate_agent_info(info);
  auto resources = ResourcePools::from_proto(info.resources());
  if (problem.empty() && !resources) problem = "invalid agent resources: " + resources.error().what();
  if (!problem.empty()) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response({http::Status::bad_request, problem}));
    co_return;
  }
  bool reregistering = info.has_id();
  std::string id = info.has_id() ? info.id().value() : next_id('S');
  info.mutable_id()->set_value(id);
  auto& agent = agents_[id];
  bool known = !agent.id.empty();
  if (!known) {
    agent.id = id;
    agent.registered_time = now_seconds();
  }
  agent_admitted(id, known);
  if (agent.unreachable) agent_returned(agent);
  if (agent.stream) agent.stream->close();
  agent.stream.reset();
  auto epoch = ++agent.epoch;
  rescind_offers({}, id);
  { auto held_as_total = std::move(*info.mutable_resources()); }  // cleared fields keep their memory
  agent.info = info;
  agent.ip = exchange.remote_address();
  agent.total = *resources;
  agent.format = format;
  agent.connected = true;
  agent.last_seen = Clock::now();
  log::info("Agent {} at {}:{} {} with {}", id, agent.info.hostname(), agent.info.port(),
            reregistering ? "re-registered" : "registered", agent.total.to_string());
  // The allocator learns the agent afresh, with what its tasks hold; it is
  // offered once its event stream is open.
  allocator_.add_agent(id, agent.total);
  allocator_.set_agent_active(id, false);
  reconcile_agent_tasks(agent, registration);
  for (const auto& [key, task] : tasks_) {
    if (task.agent_id == id && !task.released) allocator_.allocate_existing(key.first, task.role, id, task.resources);
  }
  for (const auto& [key, executor] : executors_) {
    if (std::get<1>(key) == id) allocator_.allocate_existing(std::get<0>(key), executor.role, id, executor.resources);
  }

  auto head = stream_head(negotiated);
  auto stream = co_await exchange.stream(std::move(head));
  auto current = agents_.find(id);
  if (current == agents_.end() || current->second.epoch != epoch) {
    stream->close();  // removed, or registered again, while the head was written
    co_return;
  }
  current->second.stream = stream;
  allocator_.set_agent_active(id, true);
  agent::Event registered;
  registered.set_type(agent::Event::REGISTERED);
  registered.mutable_registered()->mutable_agent_id()->set_value(id);
  registered.mutable_registered()->set_heartbeat_interval_seconds(flags_.heartbeat_interval);
  send(current->second, registered);
  request_allocation();
  stream->on_close(guarded([this, id, weak = std::weak_ptr(stream)] {
    if (auto closed = weak.lock()) agent_disconnected(id, closed);
  }));
}

void MasterProcess::reconcile_agent_tasks(AgentRecord& agent, const agent::Call::Register& registration) {
  std::set<TaskKey> reported;
  for (const auto& running : registration.tasks()) {
    TaskKey key{running.framework_id().value(), running.task().task_id().value()};
    reported.insert(key);
    if (tasks_.contains(key)) continue;
    auto resources = ResourcePools::from_proto(running.task().resources());
    TaskRecord record{key.first, agent.id, running.task(), running.state(), {}, task_role(running),
                      resources ? *resources : ResourcePools{}, is_terminal(running.state()),
                      running.has_executor() ? running.executor().executor_id().value() : std::string()};
    if (running.has_executor() && !is_terminal(running.state())) {
      auto& executor = executors_[{key.first, agent.id, record.executor_id}];
      if (executor.live_tasks.empty()) {
        executor.info = running.executor();
        auto executor_resources = ResourcePools::from_proto(running.executor().resources());
        executor.resources = executor_resources ? *executor_resources : ResourcePools{};
        executor.role = record.role;
        for (const auto& resource : running.executor().resources()) {
          if (resource.has_allocation_info()) executor.role = resource.allocation_info().role();
        }
      }
      executor.live_tasks.insert(key.second);
    }
    auto& framework = frameworks_[key.first];
    if (framework.id.empty()) {
      // A framework known only through its tasks (the master restarted): it may
      // re-subscribe within its failover timeout.
      framework.id = key.first;
      if (running.has_framework()) framework.info = running.framework();
      framework.info.mutable_id()->set_value(key.first);
      framework.roles = framework_roles(framework.info).value_or(FrameworkRoles{});
      framework.disconnected_at = Clock::now();
      framework.registered_time = now_seconds();
    }
    if (unreachable_tasks_.erase(key) > 0) {
      // Back from an unreachable agent: its framework heard TASK_UNREACHABLE
      // (or TASK_LOST) and now learns that the task lives on.
      update_framework(key.first, master_status(record, running.state(), v1::TaskStatus::REASON_AGENT_REREGISTERED,
                                                "agent " + agent.id + " is reachable again"));
    }
    tasks_.emplace(key, std::move(record));
  }
  // Tasks an unreachable agent lost while it was away are gone.
  std::vector<TaskKey> vanished;
  for (const auto& [key, task] : unreachable_tasks_) {
    if (task.agent_id == agent.id && !reported.contains(key)) vanished.push_back(key);
  }
  for (const auto& key : vanished) {
    auto task = std::move(unreachable_tasks_.at(key));
    unreachable_tasks_.erase(key);
    auto framework = frameworks_.find(key.first);
    bool partition_aware = framework != frameworks_.end() && framework->second.roles.partition_aware;
    update_framework(key.first, master_status(task, partition_aware ? v1::TASK_GONE : v1::TASK_LOST,
                                              v1::TaskStatus::REASON_AGENT_REREGISTERED,
                                              "agent " + agent.id + " came back without this task"));
  }
  std::vector<TaskKey> missing;
  for (const auto& [key, task] : tasks_) {
    if (task.agent_id == agent.id && !reported.contains(key) && !task.released) missing.push_back(key);
  }
  for (const auto& key : missing) {
    const auto& task = tasks_.at(key);
    if (task.state == v1::TASK_STAGING) {
      // Sent to the agent as it went away, and never received or recorded
      // there: the launch was lost (TASK_DROPPED to a partition-aware
      // framework, as Mesos says of a task that never started).
      auto framework = frameworks_.find(key.first);
      bool partition_aware = framework != frameworks_.end() && framework->second.roles.partition_aware;
      update_framework(key.first, master_status(task, partition_aware ? v1::TASK_DROPPED : v1::TASK_LOST,
                                                v1::TaskStatus::REASON_AGENT_RESTARTED,
                                                "agent re-registered without this task: its launch was lost"));
    } else {
      update_framework(key.first, master_status(task, v1::TASK_LOST, v1::TaskStatus::REASON_AGENT_RESTARTED,
                                                "agent re-registered without this task"));
    }
    finish_task(key);
  }
}

Result<void> MasterProcess::status_update(AgentRecord& agent, const agent::Call::StatusUpdate& update) {
  const auto& status = update.status();
  TaskKey key{update.framework_id().value(), status.task_id().value()};
  metrics_.inc("berth_master_task_updates_total", {{"state", v1::TaskState_Name(status.state())}});
  log::info("Status update {} for task {} of framework {} from agent {}", v1::TaskState_Name(status.state()),
            key.second, key.first, agent.id);
  if (auto it = tasks_.find(key); it != tasks_.end()) {
    it->second.state = status.state();
    it->second.latest = status;
    // The resources are free at once; the task stays until acknowledged.
    if (is_terminal(status.state())) release_task(it->second);
  }
  update_framework(key.first, status);
  return {};
}

void MasterProcess::agent_disconnected(const std::string& agent_id, const std::shared_ptr<http::Stream>& stream) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.stream != stream) return;
  if (stream->overflowed()) {
    metrics_.inc("berth_master_slow_subscribers_total");
    log::warn("Agent {} read its event stream too slowly: cut off", agent_id);
  }
  log::warn("Agent {} disconnected; unreachable unless it returns within {}s", agent_id,
            flags_.agent_ping_timeout * static_cast<double>(flags_.max_agent_ping_timeouts));
  it->second.connected = false;
  it->second.stream.reset();
  it->second.disconnected_at = Clock::now();
  allocator_.set_agent_active(agent_id, false);
  rescind_offers({}, agent_id);
}

void MasterProcess::remove_agent(const std::string& agent_id, v1::TaskState state,
                                 v1::TaskStatus::Reason reason, std::string_view why) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return;
  log::info("Removing agent {}: {}", agent_id, why);
  rescind_offers({}, agent_id);
  std::vector<TaskKey> keys;
  for (const auto& [key, task] : tasks_) {
    if (task.agent_id == agent_id) keys.push_back(key);
  }
  for (const auto& key : keys) {
    update_framework(key.first, master_status(tasks_.at(key), state, reason, std::string(why)));
    finish_task(key);
  }
  std::erase_if(executors_, [&](const auto& entry) { return std::get<1>(entry.first) == agent_id; });
  // Mesos tells every framework that an agent is gone.
  sched::Event failure;
  failure.set_type(sched::Event::FAILURE);
  failure.mutable_failure()->mutable_agent_id()->set_value(agent_id);
  for (auto& [framework_id, framework] : frameworks_) {
    if (framework.connected) send(framework, failure);
  }
  if (it->second.stream) it->second.stream->close();
  agents_.erase(agent_id);
  allocator_.remove_agent(agent_id);
  save_agent_registry();
}

}  // namespace berth::master
