// LAUNCH_GROUP, SHUTDOWN, MESSAGE, REQUEST and FAILURE through the master,
// with a simulated agent on the agent protocol.

#include <boost/json.hpp>

#include "master_api_fixture.hpp"

namespace berth::master::testing {
namespace {

class TaskGroupTest : public MasterApiTest {
 protected:
  v1::ExecutorInfo executor(const std::string& id, const std::string& resources = "cpus:0.1;mem:32") {
    v1::ExecutorInfo info;
    info.set_type(v1::ExecutorInfo::DEFAULT);
    info.mutable_executor_id()->set_value(id);
    *info.mutable_resources() = Resources::parse(resources).value().to_proto();
    return info;
  }

  sched::Call launch_group(const v1::Offer& offer, const v1::ExecutorInfo& executor, std::vector<v1::TaskInfo> tasks) {
    auto call = framework_call(sched::Call::ACCEPT);
    *call.mutable_accept()->add_offer_ids() = offer.id();
    call.mutable_accept()->mutable_filters()->set_refuse_seconds(0);
    auto* op = call.mutable_accept()->add_operations();
    op->set_type(v1::Offer::Operation::LAUNCH_GROUP);
    *op->mutable_launch_group()->mutable_executor() = executor;
    for (auto& t : tasks) *op->mutable_launch_group()->mutable_task_group()->add_tasks() = t;
    return call;
  }

  void report(const std::string& task_id, v1::TaskState state) {
    agent::Call update;
    update.set_type(agent::Call::STATUS_UPDATE);
    update.mutable_status_update()->mutable_framework_id()->set_value(framework_id_);
    auto* status = update.mutable_status_update()->mutable_status();
    status->mutable_task_id()->set_value(task_id);
    status->set_state(state);
    status->set_uuid(task_id + "-" + v1::TaskState_Name(state));
    EXPECT_EQ(call("/api/v1/agent", update, codec::Format::Protobuf, {}, agent_id_).result(), http::Status::accepted);
  }

  v1::Offer first_offer() {
    EXPECT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
    return framework.find(sched::Event::OFFERS)->offers().offers(0);
  }

  // The updates the framework received for a task, in order.
  std::vector<v1::TaskStatus> updates_of(const std::string& task_id) const {
    std::vector<v1::TaskStatus> out;
    for (const auto& event : framework.events) {
      if (event.type() == sched::Event::UPDATE && event.update().status().task_id().value() == task_id) {
        out.push_back(event.update().status());
      }
    }
    return out;
  }

  Resources offered_since(std::size_t first_event) const {
    Resources total;
    for (std::size_t i = first_event; i < framework.events.size(); ++i) {
      if (framework.events[i].type() != sched::Event::OFFERS) continue;
      for (const auto& offer : framework.events[i].offers().offers()) total += Resources::from_proto(offer.resources()).value();
    }
    return total;
  }

  http::Response scheduler_call(const sched::Call& call) {
    return this->call("/api/v1/scheduler", call, codec::Format::Json, framework.stream_id);
  }
};

TEST_F(TaskGroupTest, AGroupRunsUnderItsExecutorWhichHoldsItsResourcesUntilTheLastTaskEnds) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  auto offer = first_offer();
  auto mark = framework.events.size();
  auto response = scheduler_call(launch_group(offer, executor("pod"),
                                              {task("web", "cpus:0.5;mem:128"), task("sidecar", "cpus:0.5;mem:128")}));
  EXPECT_EQ(response.result(), http::Status::accepted) << response.body();
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK_GROUP) != nullptr; }));
  const auto& run = agent.find(agent::Event::RUN_TASK_GROUP)->run_task_group();
  EXPECT_EQ(run.executor().executor_id().value(), "pod");
  EXPECT_EQ(run.executor().framework_id().value(), framework_id_);
  ASSERT_EQ(run.task_group().tasks_size(), 2);
  for (const auto& t : run.task_group().tasks()) EXPECT_EQ(t.executor().executor_id().value(), "pod");
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK), nullptr);
  auto state = boost::json::parse(send_request(http::Verb::get, "/state").body());
  const auto& executors = state.at("frameworks").at(0).at("executors").as_array();
  ASSERT_EQ(executors.size(), 1u);
  EXPECT_EQ(executors[0].at("executor_id").as_string(), "pod");
  EXPECT_EQ(executors[0].at("tasks").as_array().size(), 2u);
  EXPECT_EQ(state.at("frameworks").at(0).at("tasks").at(0).at("executor_id").as_string(), "pod");

  // What is left is offered again, with the running executor listed.
  ASSERT_TRUE(run_until([&] { return offered_since(mark) == Resources::parse("cpus:0.9;mem:736").value(); }))
      << offered_since(mark).to_string();
  const auto* again = framework.find(sched::Event::OFFERS);
  ASSERT_EQ(again->offers().offers(0).executor_ids_size(), 1);
  EXPECT_EQ(again->offers().offers(0).executor_ids(0).value(), "pod");

  // One task ends: the executor keeps its resources for the other.
  report("web", v1::TASK_FINISHED);
  ASSERT_TRUE(run_until([&] { return !updates_of("web").empty(); }));
  EXPECT_EQ(framework.find(sched::Event::FAILURE), nullptr);
  // The last one ends: the executor is gone, and the framework hears it.
  report("sidecar", v1::TASK_FAILED);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::FAILURE) != nullptr; }));
  const auto& failure = framework.find(sched::Event::FAILURE)->failure();
  EXPECT_EQ(failure.executor_id().value(), "pod");
  EXPECT_EQ(failure.agent_id().value(), agent_id_);
  EXPECT_EQ(failure.status(), 1);  // not every task finished
  // The executor's share comes back with the last task's: with what is still
  // on offer, the whole agent has been offered since the launch.
  EXPECT_TRUE(run_until([&] { return offered_since(mark) == Resources::parse("cpus:2;mem:1024").value(); }))
      << offered_since(mark).to_string();
}

TEST_F(TaskGroupTest, AnInvalidTaskFailsTheWholeGroupWithTaskError) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  auto offer = first_offer();
  auto mark = framework.events.size();
  scheduler_call(launch_group(offer, executor("pod"), {task("ok", "cpus:0.5;mem:128"), task("huge", "cpus:64;mem:128")}));
  ASSERT_TRUE(run_until([&] { return !updates_of("ok").empty() && !updates_of("huge").empty(); }));
  for (const auto* id : {"ok", "huge"}) {
    auto status = updates_of(id).front();
    EXPECT_EQ(status.state(), v1::TASK_ERROR) << id;
    EXPECT_EQ(status.reason(), v1::TaskStatus::REASON_TASK_GROUP_INVALID) << id;
    EXPECT_NE(status.message().find("task huge"), std::string::npos) << status.message();
  }
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK_GROUP), nullptr);
  // Everything, the executor's share included, is offered again.
  EXPECT_TRUE(run_until([&] { return offered_since(mark) == Resources::parse("cpus:2;mem:1024").value(); }));
}

TEST_F(TaskGroupTest, GroupExecutorsOtherThanTheDefaultOneAreRefused) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  auto offer = first_offer();
  auto custom = executor("mine");
  custom.set_type(v1::ExecutorInfo::CUSTOM);
  custom.mutable_command()->set_value("./my-executor");
  auto mark = framework.events.size();
  scheduler_call(launch_group(offer, custom, {task("a", "cpus:0.5;mem:128")}));
  ASSERT_TRUE(run_until([&] { return !updates_of("a").empty(); }));
  EXPECT_EQ(updates_of("a").front().state(), v1::TASK_ERROR);
  EXPECT_NE(updates_of("a").front().message().find("executor.type must be DEFAULT"), std::string::npos)
      << updates_of("a").front().message();

  // An executor asking for more than the offer has.
  auto greedy = executor("greedy", "cpus:4;mem:32");
  ASSERT_TRUE(run_until([&] { return offered_since(mark).cpus() > 0; }));
  const auto* latest = framework.find(sched::Event::OFFERS);
  scheduler_call(launch_group(latest->offers().offers(0), greedy, {task("b", "cpus:0.5;mem:128")}));
  ASSERT_TRUE(run_until([&] { return !updates_of("b").empty(); }));
  EXPECT_NE(updates_of("b").front().message().find("the executor asks for"), std::string::npos)
      << updates_of("b").front().message();
}

TEST_F(TaskGroupTest, TasksAskingForWhatBerthDoesNotDoAreRefusedNamingTheField) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  auto offer = first_offer();
  auto checked = task("checked", "cpus:0.1;mem:32");
  checked.mutable_health_check()->set_type(v1::HealthCheck::TCP);
  checked.mutable_health_check()->mutable_tcp()->set_port(80);
  auto bridged = task("bridged", "cpus:0.1;mem:32");
  bridged.mutable_container()->set_type(v1::ContainerInfo::DOCKER);
  bridged.mutable_container()->mutable_docker()->set_image("busybox");
  bridged.mutable_container()->mutable_docker()->set_network(v1::ContainerInfo::DockerInfo::USER);
  auto fetching = task("fetching", "cpus:0.1;mem:32");
  fetching.mutable_command()->add_uris()->set_value("http://example.com/app.tgz");
  auto with_executor = task("custom", "cpus:0.1;mem:32");
  with_executor.mutable_executor()->mutable_executor_id()->set_value("x");
  // Informational fields are fine.
  auto discovered = task("discovered", "cpus:0.1;mem:32");
  discovered.mutable_discovery()->set_visibility(v1::DiscoveryInfo::FRAMEWORK);
  discovered.mutable_discovery()->set_name("web");

  auto response = scheduler_call(accept(offer, {checked, bridged, fetching, with_executor, discovered}));
  EXPECT_EQ(response.result(), http::Status::accepted) << response.body();
  ASSERT_TRUE(run_until([&] {
    return !updates_of("checked").empty() && !updates_of("bridged").empty() && !updates_of("fetching").empty() &&
           !updates_of("custom").empty();
  }));
  for (const auto& [id, field] : std::vector<std::pair<std::string, std::string>>{
           {"checked", "task.health_check"},
           {"bridged", "task.container.docker.network"},
           {"fetching", "task.command.uris"},
           {"custom", "task.executor"}}) {
    auto status = updates_of(id).front();
    EXPECT_EQ(status.state(), v1::TASK_ERROR) << id;
    EXPECT_EQ(status.message().rfind(field, 0), 0u) << id << ": " << status.message();
  }
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK)->run_task().task().task_id().value(), "discovered");
}

// BRIDGE and NONE networking, and a NetworkInfo naming the agents' "bridge",
// run on the agent's network isolator: the master passes them on as sent.
TEST_F(TaskGroupTest, BridgeAndNoneNetworkingWithPortMappingsReachTheAgent) {
  register_agent(agent, "cpus:2;mem:1024;ports:[31000-31010]");
  subscribe_framework(framework);
  auto offer = first_offer();
  auto bridged = task("bridged", "cpus:0.1;mem:32;ports:[31001-31001]");
  bridged.mutable_container()->set_type(v1::ContainerInfo::DOCKER);
  auto* docker = bridged.mutable_container()->mutable_docker();
  docker->set_image("busybox");
  docker->set_network(v1::ContainerInfo::DockerInfo::BRIDGE);
  auto* mapping = docker->add_port_mappings();
  mapping->set_host_port(31001);
  mapping->set_container_port(80);
  mapping->set_protocol("tcp");
  auto isolated = task("isolated", "cpus:0.1;mem:32");
  isolated.mutable_container()->set_type(v1::ContainerInfo::DOCKER);
  isolated.mutable_container()->mutable_docker()->set_image("busybox");
  isolated.mutable_container()->mutable_docker()->set_network(v1::ContainerInfo::DockerInfo::NONE);
  auto named = task("named", "cpus:0.1;mem:32;ports:[31002-31002]");
  named.mutable_container()->set_type(v1::ContainerInfo::MESOS);
  auto* network = named.mutable_container()->add_network_infos();
  network->set_name("bridge");
  auto* named_mapping = network->add_port_mappings();
  named_mapping->set_host_port(31002);
  named_mapping->set_container_port(8080);
  auto calico = task("calico", "cpus:0.1;mem:32");
  calico.mutable_container()->set_type(v1::ContainerInfo::MESOS);
  calico.mutable_container()->add_network_infos()->set_name("calico");

  auto response = scheduler_call(accept(offer, {bridged, isolated, named, calico}));
  EXPECT_EQ(response.result(), http::Status::accepted) << response.body();
  ASSERT_TRUE(run_until([&] { return !updates_of("calico").empty(); }));
  EXPECT_EQ(updates_of("calico").front().state(), v1::TASK_ERROR);
  EXPECT_EQ(updates_of("calico").front().message(),
            "task.container.network_infos[0].name: networks other than \"bridge\" (CNI networks) are not supported "
            "by Berth");
  std::set<std::string> launched;
  ASSERT_TRUE(run_until([&] {
    launched.clear();
    for (const auto& event : agent.events) {
      if (event.type() == agent::Event::RUN_TASK) launched.insert(event.run_task().task().task_id().value());
    }
    return launched.size() == 3;
  })) << launched.size();
  EXPECT_EQ(launched, (std::set<std::string>{"bridged", "isolated", "named"}));
  for (const auto& event : agent.events) {
    if (event.type() != agent::Event::RUN_TASK || event.run_task().task().task_id().value() != "bridged") continue;
    const auto& sent = event.run_task().task().container().docker();
    ASSERT_EQ(sent.port_mappings_size(), 1);
    EXPECT_EQ(sent.port_mappings(0).host_port(), 31001u);
    EXPECT_EQ(sent.network(), v1::ContainerInfo::DockerInfo::BRIDGE);
  }
}

TEST_F(TaskGroupTest, ShutdownKillsAnExecutorsTasksOnItsAgent) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  auto offer = first_offer();
  scheduler_call(launch_group(offer, executor("pod"), {task("a", "cpus:0.5;mem:128")}));
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK_GROUP) != nullptr; }));

  auto shutdown = framework_call(sched::Call::SHUTDOWN);
  shutdown.mutable_shutdown()->mutable_executor_id()->set_value("pod");
  shutdown.mutable_shutdown()->mutable_agent_id()->set_value(agent_id_);
  EXPECT_EQ(scheduler_call(shutdown).result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::SHUTDOWN_EXECUTOR) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::SHUTDOWN_EXECUTOR)->shutdown_executor().executor_id().value(), "pod");
  EXPECT_EQ(agent.find(agent::Event::SHUTDOWN_EXECUTOR)->shutdown_executor().framework_id().value(), framework_id_);

  // An executor the agent does not run is answered 202, as Mesos does, and not forwarded.
  auto unknown = shutdown;
  unknown.mutable_shutdown()->mutable_executor_id()->set_value("nope");
  EXPECT_EQ(scheduler_call(unknown).result(), http::Status::accepted);
  io_.run_for(100ms);
  int forwarded = 0;
  for (const auto& event : agent.events) forwarded += event.type() == agent::Event::SHUTDOWN_EXECUTOR;
  EXPECT_EQ(forwarded, 1);
}

TEST_F(TaskGroupTest, MessageAndRequestAreAcceptedAsMesosDoesAndCallsNeedTheirBody) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  auto message = framework_call(sched::Call::MESSAGE);
  message.mutable_message()->mutable_agent_id()->set_value(agent_id_);
  message.mutable_message()->mutable_executor_id()->set_value("nobody");
  message.mutable_message()->set_data("hello");
  EXPECT_EQ(scheduler_call(message).result(), http::Status::accepted);
  auto request = framework_call(sched::Call::REQUEST);
  request.mutable_request()->add_requests()->mutable_agent_id()->set_value(agent_id_);
  EXPECT_EQ(scheduler_call(request).result(), http::Status::accepted);
  auto metrics = send_request(http::Verb::get, "/metrics");
  EXPECT_NE(metrics.body().find("berth_master_framework_messages_total{result=\"invalid\"} 1"), std::string::npos)
      << metrics.body();
  EXPECT_NE(metrics.body().find("berth_master_resource_requests_total 1"), std::string::npos);

  for (auto type : {sched::Call::ACCEPT, sched::Call::SHUTDOWN, sched::Call::KILL, sched::Call::MESSAGE}) {
    auto response = scheduler_call(framework_call(type));
    EXPECT_EQ(response.result(), http::Status::bad_request) << sched::Call::Type_Name(type);
    EXPECT_NE(response.body().find("to be present"), std::string::npos) << response.body();
  }
  auto inverse = framework_call(sched::Call::DECLINE_INVERSE_OFFERS);
  inverse.mutable_decline_inverse_offers()->add_inverse_offer_ids()->set_value("io-1");
  auto refused = scheduler_call(inverse);
  EXPECT_EQ(refused.result(), http::Status::bad_request);
  EXPECT_NE(refused.body().find("io-1"), std::string::npos) << refused.body();
}

TEST_F(TaskGroupTest, EveryFrameworkHearsFailureWhenAnAgentIsRemoved) {
  register_agent(agent, "cpus:2;mem:1024");
  subscribe_framework(framework);
  agent::Call unregister;
  unregister.set_type(agent::Call::UNREGISTER);
  EXPECT_EQ(call("/api/v1/agent", unregister, codec::Format::Protobuf, {}, agent_id_).result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::FAILURE) != nullptr; }));
  const auto& failure = framework.find(sched::Event::FAILURE)->failure();
  EXPECT_EQ(failure.agent_id().value(), agent_id_);
  EXPECT_FALSE(failure.has_executor_id());
}

}  // namespace
}  // namespace berth::master::testing
