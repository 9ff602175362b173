// The framework calls of the Mesos v1 scheduler API, once scheduler_api.cpp
// has checked who sent them: ACCEPT (LAUNCH and LAUNCH_GROUP), DECLINE,
// SUPPRESS, REVIVE, KILL, SHUTDOWN, ACKNOWLEDGE, RECONCILE, MESSAGE and REQUEST.

#include <fmt/format.h>

#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/roles.hpp"
#include "master_process.hpp"
#include "task_support.hpp"

namespace berth::master {

namespace {

bool has_image(const v1::TaskInfo& task) {
  return task.has_container() &&
         (task.container().has_docker() || (task.container().has_mesos() && task.container().mesos().has_image()));
}

// The allocation role a task's resources name (Resource.allocation_info);
// empty when none does. Errors when they disagree.
Result<std::string> allocation_role(const v1::TaskInfo& task) {
  std::string role;
  for (const auto& resource : task.resources()) {
    if (!resource.has_allocation_info() || !resource.allocation_info().has_role()) continue;
    const auto& named = resource.allocation_info().role();
    if (!role.empty() && named != role) {
      return fail(fmt::format("task resources are allocated to both '{}' and '{}'", role, named));
    }
    role = named;
  }
  return role;
}

}  // namespace

Result<void> MasterProcess::accept(FrameworkRecord& framework, const sched::Call::Accept& accept) {
  if (accept.offer_ids_size() == 0) return fail("ACCEPT names no offers");
  std::string agent_id;
  std::string invalid;
  std::map<std::string, ResourcePools> available;  // by allocation role
  for (const auto& offer_id : accept.offer_ids()) {
    auto it = offers_.find(offer_id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) {
      invalid = "Offer " + offer_id.value() + " is no longer valid";
      continue;
    }
    if (!agent_id.empty() && it->second.agent_id != agent_id) {
      invalid = "Offers of one ACCEPT must be from one agent";
      continue;
    }
    agent_id = it->second.agent_id;
  }
  // The offers end here: their resources stay allocated for the tasks, and
  // what the tasks leave goes back below (all of it, if the call is invalid).
  for (const auto& offer_id : accept.offer_ids()) {
    auto it = offers_.find(offer_id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) continue;
    available[it->second.role] += it->second.resources;
    offers_.erase(it);
  }
  auto tasks_of = [](const v1::Offer::Operation& op) {
    const auto& tasks = op.type() == v1::Offer::Operation::LAUNCH_GROUP ? op.launch_group().task_group().tasks()
                                                                         : op.launch().task_infos();
    return std::vector<v1::TaskInfo>(tasks.begin(), tasks.end());
  };
  if (invalid.empty()) {
    for (const auto& op : accept.operations()) {
      if (op.type() != v1::Offer::Operation::LAUNCH && op.type() != v1::Offer::Operation::LAUNCH_GROUP) {
        invalid = "Operation " + v1::Offer::Operation::Type_Name(op.type()) + " is not supported by Berth";
      }
    }
  }
  if (!invalid.empty()) {
    // As Mesos does: the tasks are dropped (lost, for frameworks that are
    // not partition-aware), not refused with an HTTP error.
    auto state = framework.roles.partition_aware ? v1::TASK_DROPPED : v1::TASK_LOST;
    for (const auto& op : accept.operations()) {
      refuse_tasks(framework, {}, tasks_of(op), state, v1::TaskStatus::REASON_INVALID_OFFERS, invalid);
    }
    for (const auto& [role, resources] : available) allocator_.recover(framework.id, role, agent_id, resources);
    request_allocation();
    return {};
  }

  for (const auto& op : accept.operations()) {
    if (op.type() == v1::Offer::Operation::LAUNCH_GROUP) {
      launch_group(framework, agent_id, op.launch_group(), available);
      continue;
    }
    for (const auto& task : op.launch().task_infos()) launch(framework, agent_id, task, available);
  }
  double refuse = accept.has_filters() ? accept.filters().refuse_seconds() : 5.0;
  for (const auto& [role, resources] : available) {
    allocator_.recover(framework.id, role, agent_id, resources, std::chrono::duration<double>(std::max(refuse, 0.0)));
  }
  request_allocation();
  return {};
}

void MasterProcess::refuse_tasks(const FrameworkRecord& framework, const std::string& agent_id,
                                 const std::vector<v1::TaskInfo>& tasks, v1::TaskState state,
                                 v1::TaskStatus::Reason reason, const std::string& message) {
  for (const auto& task : tasks) {
    TaskRecord record{framework.id, agent_id.empty() ? task.agent_id().value() : agent_id, task, state, {}, {}, {}, {}};
    if (state == v1::TASK_ERROR) {
      log::info("Refusing task {} of framework {}: {}", task.task_id().value(), framework.id, message);
    }
    update_framework(framework.id, master_status(record, state, reason, message));
  }
}

Result<PlannedTask> MasterProcess::plan_task(const FrameworkRecord& framework, const std::string& agent_id,
                                             v1::TaskInfo task, std::map<std::string, ResourcePools>& available) const {
  const auto& task_id = task.task_id().value();
  if (!ids::is_safe_path_component(task_id)) {
    return fail("task id '" + task_id + "' must be 1-255 characters of [A-Za-z0-9._-]");
  }
  if (tasks_.contains({framework.id, task_id})) return fail("task id '" + task_id + "' is already in use");
  if (task.agent_id().value() != agent_id) {
    return fail("task's agent id '" + task.agent_id().value() + "' does not match the offer's '" + agent_id + "'");
  }
  // A task from an image may leave its command to the image's Entrypoint and Cmd.
  if (!task.has_command() ||
      (!has_image(task) && !task.command().has_value() && task.command().arguments_size() == 0)) {
    return fail("task has no command to run");
  }
  if (auto unsupported = unsupported_task_feature(task); !unsupported.empty()) return fail(unsupported);
  BERTH_TRY(auto role, allocation_role(task));
  if (role.empty()) {
    if (available.size() != 1) {
      return fail("the offers are allocated to several roles: set the task's resources' allocation_info.role");
    }
    role = available.begin()->first;
  }
  auto pool = available.find(role);
  if (pool == available.end()) return fail("no offer of this ACCEPT is allocated to role '" + role + "'");
  auto resources = ResourcePools::from_proto(task.resources());
  if (!resources) return fail(resources.error().context("invalid task resources"));
  auto total = resources->total();
  if (total.cpus() <= 0 || total.mem_mb() <= 0) return fail("task must ask for cpus and mem");
  if (!pool->second.contains(*resources)) {
    return fail("task asks for " + resources->to_string() + " but the offers have " + pool->second.to_string());
  }
  if (!agents_.contains(agent_id)) return fail("agent " + agent_id + " is unknown");
  pool->second -= *resources;
  // The agent and a re-registration later learn the task's role from its resources.
  for (auto& resource : *task.mutable_resources()) resource.mutable_allocation_info()->set_role(role);
  return PlannedTask{std::move(task), role, std::move(*resources)};
}

void MasterProcess::launch(FrameworkRecord& framework, const std::string& agent_id, v1::TaskInfo task,
                           std::map<std::string, ResourcePools>& available) {
  if (task.has_executor()) {
    refuse_tasks(framework, agent_id, {task}, v1::TASK_ERROR, v1::TaskStatus::REASON_TASK_INVALID,
                 "task.executor: custom executors are not supported by Berth; launch the task with a command, "
                 "or use LAUNCH_GROUP with the DEFAULT executor");
    return;
  }
  auto planned = plan_task(framework, agent_id, task, available);
  if (!planned) {
    refuse_tasks(framework, agent_id, {task}, v1::TASK_ERROR, v1::TaskStatus::REASON_TASK_INVALID,
                 planned.error().what());
    return;
  }
  auto& agent = agents_.at(agent_id);
  const auto& task_id = planned->task.task_id().value();
  TaskRecord record{framework.id, agent_id, planned->task, v1::TASK_STAGING, {}, planned->role, planned->resources, {}};
  if (!agent.connected) {
    allocator_.recover(framework.id, planned->role, agent_id, planned->resources);
    update_framework(framework.id, master_status(record, v1::TASK_LOST, v1::TaskStatus::REASON_AGENT_DISCONNECTED,
                                                 "agent is disconnected"));
    return;
  }
  agent::Event run;
  run.set_type(agent::Event::RUN_TASK);
  *run.mutable_run_task()->mutable_framework() = framework.info;
  *run.mutable_run_task()->mutable_task() = std::move(planned->task);
  send(agent, run);
  tasks_.emplace(TaskKey{framework.id, task_id}, std::move(record));
  metrics_.inc("berth_master_tasks_launched_total");
  log::info("Launching task {} of framework {} on agent {} in role {}", task_id, framework.id, agent_id,
            planned->role);
}

bool MasterProcess::knows_executor(const std::string& framework_id, const std::string& agent_id,
                                   const std::string& executor_id) const {
  if (executors_.contains({framework_id, agent_id, executor_id})) return true;
  // A command task's executor has the task's id, as in Mesos.
  auto task = tasks_.find({framework_id, executor_id});
  return task != tasks_.end() && task->second.agent_id == agent_id && task->second.executor_id.empty();
}

// The executor of a group must be the DEFAULT one; the first group it runs
// pays for its resources, which it keeps until its last task ends. Returns
// the role they come from (empty when the executor runs already).
Result<std::string> MasterProcess::plan_group_executor(const FrameworkRecord& framework, const std::string& agent_id,
                                                const v1::ExecutorInfo& executor,
                                                std::map<std::string, ResourcePools>& available) const {
  if (auto problem = invalid_group_executor(executor, framework.id); !problem.empty()) return fail(problem);
  const auto& executor_id = executor.executor_id().value();
  if (!ids::is_safe_path_component(executor_id)) {
    return fail("executor id '" + executor_id + "' must be 1-255 characters of [A-Za-z0-9._-]");
  }
  if (auto running = executors_.find({framework.id, agent_id, executor_id}); running != executors_.end()) {
    return std::string();  // it runs already: a further group joins it
  }
  if (knows_executor(framework.id, agent_id, executor_id)) {
    return fail("executor id '" + executor_id + "' is in use by a command task on this agent");
  }
  v1::TaskInfo as_task;  // the executor's resources, checked as a task's would be
  *as_task.mutable_resources() = executor.resources();
  BERTH_TRY(auto role, allocation_role(as_task));
  if (role.empty()) {
    if (available.size() != 1) return fail("the offers are allocated to several roles: set executor.resources' role");
    role = available.begin()->first;
  }
  auto resources = ResourcePools::from_proto(executor.resources());
  if (!resources) return fail(resources.error().context("invalid executor resources"));
  auto pool = available.find(role);
  if (pool == available.end() || !pool->second.contains(*resources)) {
    return fail("the executor asks for " + resources->to_string() + " but the offers have " +
                (pool == available.end() ? std::string("nothing in role ") + role : pool->second.to_string()));
  }
  pool->second -= *resources;
  return role;
}

// A task group starts whole or not at all: any invalid task, or an invalid
// executor, fails every task of the group with TASK_ERROR.
void MasterProcess::launch_group(FrameworkRecord& framework, const std::string& agent_id,
                                 const v1::Offer::Operation::LaunchGroup& group,
                                 std::map<std::string, ResourcePools>& available) {
  const auto& executor = group.executor();
  const auto& executor_id = executor.executor_id().value();
  std::vector<v1::TaskInfo> tasks(group.task_group().tasks().begin(), group.task_group().tasks().end());
  auto trial = available;
  ExecutorKey executor_key{framework.id, agent_id, executor_id};
  bool new_executor = !executors_.contains(executor_key);
  std::string executor_role;
  auto problem = [&]() -> Result<std::vector<PlannedTask>> {
    if (tasks.empty()) return fail("the task group has no tasks");
    BERTH_TRY(executor_role, with_context(plan_group_executor(framework, agent_id, executor, trial), "executor"));
    std::vector<PlannedTask> planned;
    std::set<std::string> ids;
    for (const auto& task : tasks) {
      const auto& id = task.task_id().value();
      if (!ids.insert(id).second) return fail("task id '" + id + "' appears twice in the group");
      if (task.has_executor() && task.executor().executor_id().value() != executor_id) {
        return fail("task " + id + " names executor '" + task.executor().executor_id().value() +
                    "', not the group's '" + executor_id + "'");
      }
      if (task.has_container() && task.container().network_infos_size() > 0) {
        return fail("task " + id + ": network_infos belong on the group's executor");
      }
      BERTH_TRY(auto plan, with_context(plan_task(framework, agent_id, task, trial), "task " + id));
      planned.push_back(std::move(plan));
    }
    return planned;
  }();
  if (!problem) {
    refuse_tasks(framework, agent_id, tasks, v1::TASK_ERROR, v1::TaskStatus::REASON_TASK_GROUP_INVALID,
                 "Invalid task group: " + problem.error().what());
    return;
  }
  auto& planned = *problem;
  auto& agent = agents_.at(agent_id);
  if (!agent.connected) {
    refuse_tasks(framework, agent_id, tasks, v1::TASK_LOST, v1::TaskStatus::REASON_AGENT_DISCONNECTED,
                 "agent is disconnected");
    return;  // `available` still holds it all, and goes back to the allocator
  }
  available = std::move(trial);
  if (new_executor) {
    auto& record = executors_[executor_key];
    record.info = executor;
    record.info.mutable_framework_id()->set_value(framework.id);
    auto resources = ResourcePools::from_proto(executor.resources());
    record.resources = resources ? *resources : ResourcePools{};
    record.role = executor_role;
    for (auto& resource : *record.info.mutable_resources()) resource.mutable_allocation_info()->set_role(record.role);
  }
  auto& record = executors_.at(executor_key);
  agent::Event run;
  run.set_type(agent::Event::RUN_TASK_GROUP);
  *run.mutable_run_task_group()->mutable_framework() = framework.info;
  *run.mutable_run_task_group()->mutable_executor() = record.info;
  for (auto& plan : planned) {
    auto& task = *run.mutable_run_task_group()->mutable_task_group()->add_tasks();
    task = plan.task;
    *task.mutable_executor() = record.info;
    const auto& task_id = plan.task.task_id().value();
    record.live_tasks.insert(task_id);
    TaskRecord task_record{framework.id, agent_id, task, v1::TASK_STAGING, {}, plan.role, plan.resources, false, executor_id};
    tasks_.emplace(TaskKey{framework.id, task_id}, std::move(task_record));
    metrics_.inc("berth_master_tasks_launched_total");
  }
  send(agent, run);
  log::info("Launching a group of {} tasks of framework {} on agent {} under executor {}", planned.size(),
            framework.id, agent_id, executor_id);
}

void MasterProcess::decline(FrameworkRecord& framework, const google::protobuf::RepeatedPtrField<v1::OfferID>& ids,
                            double refuse_seconds) {
  for (const auto& id : ids) {
    auto it = offers_.find(id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) continue;
    remove_offer(id.value(), false, std::max(refuse_seconds, 0.0));
  }
}

namespace {

// The roles a SUPPRESS or REVIVE names, which must be the framework's; none
// named means all of them.
Result<std::set<std::string>> named_roles(const FrameworkRecord& framework,
                                          const google::protobuf::RepeatedPtrField<std::string>& roles) {
  std::set<std::string> out(roles.begin(), roles.end());
  for (const auto& role : out) {
    if (!framework.roles.roles.contains(role)) {
      return fail(fmt::format("role '{}' is not one of the framework's roles", role));
    }
  }
  return out.empty() ? framework.roles.roles : out;
}

}  // namespace

Result<void> MasterProcess::suppress(FrameworkRecord& framework,
                                     const google::protobuf::RepeatedPtrField<std::string>& roles) {
  BERTH_TRY(auto named, named_roles(framework, roles));
  allocator_.suppress(framework.id, named);
  framework.suppressed_roles.insert(named.begin(), named.end());
  // Mesos leaves outstanding offers alone: the framework may still use them.
  return {};
}

Result<void> MasterProcess::revive(FrameworkRecord& framework,
                                   const google::protobuf::RepeatedPtrField<std::string>& roles) {
  BERTH_TRY(auto named, named_roles(framework, roles));
  allocator_.revive(framework.id, named);
  for (const auto& role : named) framework.suppressed_roles.erase(role);
  request_allocation();
  return {};
}

Result<void> MasterProcess::kill(FrameworkRecord& framework, const sched::Call::Kill& kill) {
  auto it = tasks_.find({framework.id, kill.task_id().value()});
  if (it == tasks_.end()) {
    TaskRecord unknown{framework.id, kill.has_agent_id() ? kill.agent_id().value() : "", {}, v1::TASK_LOST, {}, {}, {}};
    *unknown.info.mutable_task_id() = kill.task_id();
    update_framework(framework.id, master_status(unknown, v1::TASK_LOST, v1::TaskStatus::REASON_RECONCILIATION,
                                                 "Attempted to kill an unknown task"));
    return {};
  }
  auto agent = agents_.find(it->second.agent_id);
  if (agent == agents_.end()) return fail("task's agent is unknown");
  agent::Event event;
  event.set_type(agent::Event::KILL_TASK);
  event.mutable_kill_task()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_kill_task()->mutable_task_id() = kill.task_id();
  if (kill.has_kill_policy()) *event.mutable_kill_task()->mutable_kill_policy() = kill.kill_policy();
  send(agent->second, event);
  log::info("Asked agent {} to kill task {} of framework {}", agent->first, kill.task_id().value(), framework.id);
  return {};
}

Result<void> MasterProcess::acknowledge(FrameworkRecord& framework, const sched::Call::Acknowledge& ack) {
  auto agent = agents_.find(ack.agent_id().value());
  if (agent == agents_.end()) return fail("agent '" + ack.agent_id().value() + "' is unknown");
  // The acknowledged terminal update ends the task here too.
  TaskKey key{framework.id, ack.task_id().value()};
  if (auto task = tasks_.find(key); task != tasks_.end() && task->second.released && task->second.latest &&
                                    task->second.latest->uuid() == ack.uuid()) {
    remove_task(key);
  }
  agent::Event event;
  event.set_type(agent::Event::ACKNOWLEDGE);
  event.mutable_acknowledge()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_acknowledge()->mutable_task_id() = ack.task_id();
  event.mutable_acknowledge()->set_uuid(ack.uuid());
  send(agent->second, event);
  return {};
}

void MasterProcess::reconcile(FrameworkRecord& framework, const sched::Call::Reconcile& reconcile) {
  auto report = [&](const TaskRecord& task) {
    auto status = task.latest ? *task.latest
                              : master_status(task, task.state, v1::TaskStatus::REASON_RECONCILIATION, "");
    status.clear_uuid();
    status.set_reason(v1::TaskStatus::REASON_RECONCILIATION);
    update_framework(framework.id, status);
  };
  if (reconcile.tasks_size() == 0) {
    for (const auto* tasks : {&tasks_, &unreachable_tasks_}) {
      for (const auto& [key, task] : *tasks) {
        if (key.first == framework.id) report(task);
      }
    }
    return;
  }
  for (const auto& wanted : reconcile.tasks()) {
    TaskKey key{framework.id, wanted.task_id().value()};
    if (auto it = tasks_.find(key); it != tasks_.end()) {
      report(it->second);
      continue;
    }
    if (auto it = unreachable_tasks_.find(key); it != unreachable_tasks_.end()) {
      report(it->second);
      continue;
    }
    if (wanted.has_agent_id() && recovered_agents_.contains(wanted.agent_id().value())) {
      // As Mesos after a failover: no answer while the agent may still re-register with the task.
      continue;
    }
    // As Mesos answers: TASK_LOST for frameworks that are not partition-aware;
    // for the others, TASK_GONE if the named agent is registered (and so
    // surely does not run it), TASK_UNREACHABLE if it is unreachable, and
    // TASK_UNKNOWN if the master knows no such agent.
    auto state = v1::TASK_LOST;
    if (framework.roles.partition_aware) {
      auto agent = wanted.has_agent_id() ? agents_.find(wanted.agent_id().value()) : agents_.end();
      state = agent == agents_.end()      ? v1::TASK_UNKNOWN
              : agent->second.unreachable ? v1::TASK_UNREACHABLE
                                          : v1::TASK_GONE;
    }
    TaskRecord unknown{framework.id, wanted.has_agent_id() ? wanted.agent_id().value() : "", {}, state, {}, {}, {}};
    *unknown.info.mutable_task_id() = wanted.task_id();
    update_framework(framework.id, master_status(unknown, state, v1::TaskStatus::REASON_RECONCILIATION,
                                                 "Task is unknown to the master"));
  }
}

// Mesos's SHUTDOWN: kill every task of one executor on one agent.
void MasterProcess::shutdown_executor(FrameworkRecord& framework, const sched::Call::Shutdown& shutdown) {
  const auto& agent_id = shutdown.agent_id().value();
  const auto& executor_id = shutdown.executor_id().value();
  auto agent = agents_.find(agent_id);
  if (agent == agents_.end() || !agent->second.connected || !knows_executor(framework.id, agent_id, executor_id)) {
    // As Mesos: nothing to shut down is not an error of the call.
    log::warn("Ignoring SHUTDOWN of executor {} of framework {} on agent {}: no such executor runs there",
              executor_id, framework.id, agent_id);
    return;
  }
  agent::Event event;
  event.set_type(agent::Event::SHUTDOWN_EXECUTOR);
  event.mutable_shutdown_executor()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_shutdown_executor()->mutable_executor_id() = shutdown.executor_id();
  send(agent->second, event);
  log::info("Asked agent {} to shut down executor {} of framework {}", agent_id, executor_id, framework.id);
}

// Mesos hands a framework's message to the executor, which for the built-in
// executors (the only ones Berth has) ignores it: the master counts it and,
// as Mesos does, answers 202 whether or not the executor exists.
void MasterProcess::framework_message(FrameworkRecord& framework, const sched::Call::Message& message) {
  bool valid = knows_executor(framework.id, message.agent_id().value(), message.executor_id().value());
  metrics_.inc("berth_master_framework_messages_total", {{"result", valid ? "delivered" : "invalid"}});
  if (!valid) {
    log::warn("Dropping a message of framework {} to executor {} on agent {}: no such executor", framework.id,
              message.executor_id().value(), message.agent_id().value());
  }
}

// As in Mesos's hierarchical allocator, REQUEST has no effect: offers follow
// DRF, quota and reservations.
void MasterProcess::resource_request(FrameworkRecord& framework, const sched::Call::Request& request) {
  metrics_.inc("berth_master_resource_requests_total");
  log::info("Framework {} sent REQUEST for {} resource sets; requests do not change allocation", framework.id,
            request.requests_size());
}

}  // namespace berth::master
