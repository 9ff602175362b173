// The master's APIs over real HTTP on loopback: a framework speaking the Mesos
// v1 scheduler API (JSON) and an agent speaking the agent protocol (protobuf).

#include "master_api_fixture.hpp"

namespace berth::master::testing {
namespace {

TEST_F(MasterApiTest, OfferLaunchUpdateAcknowledgeTeardown) {
  register_agent(agent);
  subscribe_framework(framework);

  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);
  EXPECT_EQ(offer.agent_id().value(), agent_id_);
  EXPECT_EQ(offer.hostname(), "node-1");
  EXPECT_EQ(offer.url().address().port(), 5051);
  EXPECT_EQ(Resources::from_proto(offer.resources()).value(),
            Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").value());

  auto response = call("/api/v1/scheduler", accept(offer, {task("t1", "cpus:0.5;mem:128")}),
                       codec::Format::Json, framework.stream_id);
  EXPECT_EQ(response.result(), http::Status::accepted) << response.body();
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK)->run_task().task().task_id().value(), "t1");
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK)->run_task().framework().id().value(), framework_id_);

  agent::Call update;
  update.set_type(agent::Call::STATUS_UPDATE);
  update.mutable_status_update()->mutable_framework_id()->set_value(framework_id_);
  auto* status = update.mutable_status_update()->mutable_status();
  status->mutable_task_id()->set_value("t1");
  status->set_state(v1::TASK_FINISHED);
  status->set_uuid("0123456789abcdef");
  EXPECT_EQ(call("/api/v1/agent", update, codec::Format::Protobuf, {}, agent_id_).result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::UPDATE) != nullptr; }));
  EXPECT_EQ(framework.find(sched::Event::UPDATE)->update().status().state(), v1::TASK_FINISHED);

  auto ack = framework_call(sched::Call::ACKNOWLEDGE);
  ack.mutable_acknowledge()->mutable_agent_id()->set_value(agent_id_);
  ack.mutable_acknowledge()->mutable_task_id()->set_value("t1");
  ack.mutable_acknowledge()->set_uuid("0123456789abcdef");
  EXPECT_EQ(call("/api/v1/scheduler", ack, codec::Format::Json, framework.stream_id).result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::ACKNOWLEDGE) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::ACKNOWLEDGE)->acknowledge().uuid(), "0123456789abcdef");

  EXPECT_EQ(call("/api/v1/scheduler", framework_call(sched::Call::TEARDOWN), codec::Format::Json,
                 framework.stream_id).result(),
            http::Status::accepted);
  EXPECT_TRUE(run_until([&] { return framework.ended; }));
}

TEST_F(MasterApiTest, InvalidTasksGetTaskErrorAndReturnTheirResources) {
  register_agent(agent);
  subscribe_framework(framework);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);

  auto response = call("/api/v1/scheduler", accept(offer, {task("too-big", "cpus:64;mem:128")}),
                       codec::Format::Json, framework.stream_id);
  EXPECT_EQ(response.result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::UPDATE) != nullptr; }));
  const auto& status = framework.find(sched::Event::UPDATE)->update().status();
  EXPECT_EQ(status.state(), v1::TASK_ERROR);
  EXPECT_EQ(status.reason(), v1::TaskStatus::REASON_TASK_INVALID);
  EXPECT_NE(status.message().find("cpus"), std::string::npos) << status.message();
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK), nullptr);
}

TEST_F(MasterApiTest, WrongStreamIdIsRefused) {
  subscribe_framework(framework);
  auto response = call("/api/v1/scheduler", framework_call(sched::Call::REVIVE), codec::Format::Json, "bogus");
  EXPECT_EQ(response.result(), http::Status::bad_request);
  EXPECT_NE(response.body().find("stream ID"), std::string::npos) << response.body();
  auto missing = call("/api/v1/scheduler", framework_call(sched::Call::REVIVE), codec::Format::Json);
  EXPECT_EQ(missing.result(), http::Status::bad_request);
}

TEST_F(MasterApiTest, HeartbeatsFlowToFrameworksAndAgents) {
  register_agent(agent);
  subscribe_framework(framework);
  EXPECT_TRUE(run_until([&] {
    return framework.find(sched::Event::HEARTBEAT) != nullptr && agent.find(agent::Event::HEARTBEAT) != nullptr;
  }));
}

TEST_F(MasterApiTest, DisconnectedFrameworkWithoutFailoverTimeoutIsRemovedAndItsTasksShutDown) {
  register_agent(agent);
  subscribe_framework(framework);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);
  call("/api/v1/scheduler", accept(offer, {task("t1", "cpus:0.5;mem:128")}), codec::Format::Json, framework.stream_id);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  framework.response->close();
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::SHUTDOWN_FRAMEWORK) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::SHUTDOWN_FRAMEWORK)->shutdown_framework().framework_id().value(), framework_id_);
}

TEST_F(MasterApiTest, AgentReRegistrationAfterAMasterRestartKeepsItsTasks) {
  // A fresh master hears of an agent id and its running task for the first time.
  agent::Call call;
  call.set_type(agent::Call::REGISTER);
  auto* info = call.mutable_register_()->mutable_agent_info();
  info->set_hostname("node-1");
  info->set_port(5051);
  info->mutable_id()->set_value("old-agent");
  *info->mutable_resources() = Resources::parse("cpus:2;mem:1024").value().to_proto();
  auto* running = call.mutable_register_()->add_tasks();
  running->mutable_framework_id()->set_value("old-framework");
  agent_id_ = "old-agent";
  *running->mutable_task() = task("t1", "cpus:1;mem:512");
  running->set_state(v1::TASK_RUNNING);
  running->mutable_framework()->set_user("root");
  running->mutable_framework()->set_name("old");
  running->mutable_framework()->set_failover_timeout(60);
  subscribe(agent, "/api/v1/agent", call, codec::Format::Protobuf);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::REGISTERED) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::REGISTERED)->registered().agent_id().value(), "old-agent");

  // The framework re-subscribes with its id and is offered only what the task leaves free.
  sched::Call subscribe_call;
  subscribe_call.set_type(sched::Call::SUBSCRIBE);
  auto* framework_info = subscribe_call.mutable_subscribe()->mutable_framework_info();
  framework_info->set_user("root");
  framework_info->set_name("old");
  framework_info->mutable_id()->set_value("old-framework");
  subscribe(framework, "/api/v1/scheduler", subscribe_call, codec::Format::Json);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  EXPECT_EQ(framework.find(sched::Event::SUBSCRIBED)->subscribed().framework_id().value(), "old-framework");
  auto offered = Resources::from_proto(framework.find(sched::Event::OFFERS)->offers().offers(0).resources()).value();
  EXPECT_EQ(offered, Resources::parse("cpus:1;mem:512").value());
}

}  // namespace
}  // namespace berth::master::testing
