// GET /state (JSON, in the shape of Mesos's /master/state) and GET /metrics.

#include <boost/json.hpp>

#include "berth/common/codec.hpp"
#include "master_process.hpp"

namespace berth::master {
namespace json = boost::json;
namespace {

json::object resources_json(const Resources& resources) {
  json::object out;
  for (const auto& resource : resources.to_proto()) {
    if (resource.type() == v1::Value::SCALAR) {
      out[resource.name()] = resource.scalar().value();
    } else {
      google::protobuf::RepeatedPtrField<v1::Resource> one;
      *one.Add() = resource;
      auto text = Resources::from_proto(one).value_or(Resources{}).to_string();
      out[resource.name()] = text.substr(text.find(':') + 1);
    }
  }
  for (const char* name : {"cpus", "mem", "disk", "gpus"}) {
    if (!out.contains(name)) out[name] = 0.0;
  }
  return out;
}

json::object resources_json(const ResourcePools& pools) { return resources_json(pools.total()); }

json::object reserved_json(const ResourcePools& pools) {
  json::object out;
  for (const auto& [role, resources] : pools.pools()) {
    if (role != "*") out[role] = resources_json(resources);
  }
  return out;
}

json::object task_json(const TaskRecord& task) {
  json::object out;
  out["id"] = task.info.task_id().value();
  out["name"] = task.info.name();
  out["framework_id"] = task.framework_id;
  out["slave_id"] = task.agent_id;
  out["agent_id"] = task.agent_id;
  out["state"] = v1::TaskState_Name(task.state);
  out["role"] = task.role;
  out["executor_id"] = task.executor_id;
  out["resources"] = resources_json(task.resources);
  json::array statuses;
  if (task.latest) statuses.push_back(json::parse(codec::to_json(*task.latest)));
  out["statuses"] = std::move(statuses);
  return out;
}

}  // namespace

std::string MasterProcess::state_json() const {
  json::object state;
  state["id"] = master_id_;
  state["version"] = BERTH_VERSION;
  state["hostname"] = flags_.hostname;
  state["port"] = server_.port();
  state["start_time"] = start_time_;
  state["pid"] = master_info().pid();
  state["elected"] = leading_;
  if (leading_ && elected_time_ > 0) state["elected_time"] = elected_time_;
  if (leading_) {
    state["leader"] = master_info().pid();
    state["leader_info"] = json::parse(codec::to_json(master_info()));
  } else if (leader_) {
    state["leader"] = leader_->pid();
    state["leader_info"] = json::parse(codec::to_json(*leader_));
  }
  state["activated_slaves"] = static_cast<std::int64_t>(
      std::count_if(agents_.begin(), agents_.end(), [](const auto& a) { return a.second.connected; }));

  std::map<std::string, ResourcePools> used, offered;
  for (const auto& [key, task] : tasks_) {
    if (!task.released) used[task.agent_id] += task.resources;
  }
  for (const auto& [key, executor] : executors_) used[std::get<1>(key)] += executor.resources;
  for (const auto& [id, offer] : offers_) offered[offer.agent_id] += offer.resources;
  json::array agents;
  for (const auto& [id, agent] : agents_) {
    json::object a;
    a["id"] = id;
    a["hostname"] = agent.info.hostname();
    a["port"] = agent.info.port();
    a["pid"] = "slave(1)@" + agent.ip + ":" + std::to_string(agent.info.port());
    a["active"] = agent.connected;
    a["unreachable"] = agent.unreachable;
    a["registered_time"] = agent.registered_time;
    a["resources"] = resources_json(agent.total);
    a["reserved_resources"] = reserved_json(agent.total);
    a["unreserved_resources"] = resources_json(agent.total.unreserved());
    a["used_resources"] = resources_json(used[id]);
    a["offered_resources"] = resources_json(offered[id]);
    agents.push_back(std::move(a));
  }
  state["slaves"] = std::move(agents);
  json::array recovered;
  for (const auto& [id, deadline] : recovered_agents_) recovered.push_back(json::object{{"id", id}});
  state["recovered_slaves"] = std::move(recovered);

  json::array frameworks;
  for (const auto& [id, framework] : frameworks_) {
    json::object f;
    f["id"] = id;
    f["name"] = framework.info.name();
    f["user"] = framework.info.user();
    f["active"] = framework.connected;
    json::array framework_roles;
    for (const auto& role : framework.roles.roles) framework_roles.emplace_back(role);
    f["roles"] = std::move(framework_roles);
    if (!framework.roles.multi_role && !framework.roles.roles.empty()) f["role"] = *framework.roles.roles.begin();
    json::array suppressed;
    for (const auto& role : framework.suppressed_roles) suppressed.emplace_back(role);
    f["suppressed_roles"] = std::move(suppressed);
    Resources framework_used, framework_offered;
    for (const auto& [key, task] : tasks_) {
      if (key.first == id && !task.released) framework_used += task.resources.total();
    }
    json::array executors;
    for (const auto& [key, executor] : executors_) {
      if (std::get<0>(key) != id) continue;
      framework_used += executor.resources.total();
      json::array live;
      for (const auto& task_id : executor.live_tasks) live.emplace_back(task_id);
      executors.push_back(json::object{{"executor_id", std::get<2>(key)},
                                       {"name", executor.info.name()},
                                       {"type", v1::ExecutorInfo::Type_Name(executor.info.type())},
                                       {"slave_id", std::get<1>(key)},
                                       {"role", executor.role},
                                       {"resources", resources_json(executor.resources)},
                                       {"tasks", std::move(live)}});
    }
    f["executors"] = std::move(executors);
    for (const auto& [offer_id, offer] : offers_) {
      if (offer.framework_id == id) framework_offered += offer.resources.total();
    }
    f["used_resources"] = resources_json(framework_used);
    f["offered_resources"] = resources_json(framework_offered);
    f["connected"] = framework.connected;
    f["failover_timeout"] = framework.info.failover_timeout();
    f["registered_time"] = framework.registered_time;
    json::array tasks;
    for (const auto& [key, task] : tasks_) {
      if (key.first == id) tasks.push_back(task_json(task));
    }
    f["tasks"] = std::move(tasks);
    json::array completed;
    for (const auto& task : framework.completed) completed.push_back(task_json(task));
    f["completed_tasks"] = std::move(completed);
    json::array unreachable;
    for (const auto& [key, task] : unreachable_tasks_) {
      if (key.first == id) unreachable.push_back(task_json(task));
    }
    f["unreachable_tasks"] = std::move(unreachable);
    json::array offers;
    for (const auto& [offer_id, offer] : offers_) {
      if (offer.framework_id != id) continue;
      offers.push_back(json::object{{"id", offer_id},
                                    {"agent_id", offer.agent_id},
                                    {"role", offer.role},
                                    {"resources", resources_json(offer.resources)}});
    }
    f["offers"] = std::move(offers);
    frameworks.push_back(std::move(f));
  }
  state["frameworks"] = std::move(frameworks);
  return json::serialize(state);
}

// GET /roles, as Mesos's /roles: every role the allocator knows (those of
// frameworks, weights, quotas and reservations), with its share.
std::string MasterProcess::roles_json() const {
  json::array out;
  for (const auto& role : allocator_.roles()) {
    json::array frameworks;
    for (const auto& id : role.frameworks) frameworks.emplace_back(id);
    out.push_back(json::object{
        {"name", role.name},
        {"weight", role.weight},
        {"frameworks", std::move(frameworks)},
        {"resources", resources_json(role.allocated)},
        {"allocated", resources_json(role.allocated)},
        {"quota", json::object{{"role", role.name},
                               {"guarantee", resources_json(role.quota.guarantee)},
                               {"limit", resources_json(role.quota.limit)},
                               {"consumed", resources_json(role.consumed)}}}});
  }
  return json::serialize(json::object{{"roles", std::move(out)}});
}

std::string MasterProcess::metrics_text() {
  std::size_t connected_agents = 0;
  for (const auto& [id, agent] : agents_) connected_agents += agent.connected;
  std::size_t connected_frameworks = 0;
  for (const auto& [id, framework] : frameworks_) connected_frameworks += framework.connected;
  metrics_.describe("berth_master_agents", "gauge", "Agents known to the master, by connection state");
  std::size_t unreachable_agents = 0;
  for (const auto& [id, agent] : agents_) unreachable_agents += agent.unreachable;
  metrics_.set("berth_master_agents", {{"state", "connected"}}, static_cast<double>(connected_agents));
  metrics_.set("berth_master_agents", {{"state", "disconnected"}},
               static_cast<double>(agents_.size() - connected_agents - unreachable_agents));
  metrics_.set("berth_master_agents", {{"state", "unreachable"}}, static_cast<double>(unreachable_agents));
  metrics_.describe("berth_master_frameworks", "gauge", "Frameworks known to the master, by connection state");
  metrics_.set("berth_master_frameworks", {{"state", "connected"}}, static_cast<double>(connected_frameworks));
  metrics_.set("berth_master_frameworks", {{"state", "disconnected"}},
               static_cast<double>(frameworks_.size() - connected_frameworks));
  metrics_.describe("berth_master_tasks", "gauge", "Tasks not yet terminal");
  metrics_.set("berth_master_tasks", {},
               static_cast<double>(std::ranges::count_if(tasks_, [](const auto& t) { return !t.second.released; })));
  metrics_.describe("berth_master_offers_outstanding", "gauge", "Offers sent and not yet used");
  metrics_.set("berth_master_offers_outstanding", {}, static_cast<double>(offers_.size()));
  auto total = cluster_total();
  metrics_.describe("berth_master_cpus", "gauge", "CPUs of connected agents");
  metrics_.set("berth_master_cpus", {{"type", "total"}}, total.cpus());
  metrics_.describe("berth_master_memory_bytes", "gauge", "Memory of connected agents");
  metrics_.set("berth_master_memory_bytes", {{"type", "total"}}, total.mem_mb() * 1024 * 1024);
  return metrics_.render();
}

}  // namespace berth::master
