#include "scheduler_calls.hpp"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

v1::FrameworkID framework_id(const std::string& value) {
  v1::FrameworkID id;
  id.set_value(value);
  return id;
}

TEST(SchedulerCalls, SubscribeCarriesTheFrameworkAndItsIdWhenResubscribing) {
  FrameworkSpec spec{.user = "alice", .name = "berth-run", .hostname = "h", .role = "*",
                     .failover_timeout_s = 10, .id = std::nullopt};
  auto first = subscribe_call(framework_info(spec));
  EXPECT_EQ(first.type(), sched::Call::SUBSCRIBE);
  EXPECT_FALSE(first.has_framework_id());
  const auto& info = first.subscribe().framework_info();
  EXPECT_EQ(info.user(), "alice");
  EXPECT_EQ(info.name(), "berth-run");
  EXPECT_DOUBLE_EQ(info.failover_timeout(), 10);
  EXPECT_FALSE(info.has_id());
  ASSERT_EQ(info.capabilities_size(), 1);
  EXPECT_EQ(info.capabilities(0).type(), v1::FrameworkInfo::Capability::PARTITION_AWARE);
  EXPECT_TRUE(first.IsInitialized());

  spec.id = framework_id("f-1");
  auto again = subscribe_call(framework_info(spec));
  EXPECT_EQ(again.framework_id().value(), "f-1");
  EXPECT_EQ(again.subscribe().framework_info().id().value(), "f-1");
}

TEST(SchedulerCalls, AcceptLaunchesTheTaskOnTheOffer) {
  v1::OfferID offer;
  offer.set_value("o-1");
  v1::TaskInfo task;
  task.set_name("echo");
  task.mutable_task_id()->set_value("echo-1");
  task.mutable_agent_id()->set_value("a-1");
  auto call = accept_call(framework_id("f-1"), offer, task, 60);
  EXPECT_EQ(call.type(), sched::Call::ACCEPT);
  EXPECT_EQ(call.framework_id().value(), "f-1");
  ASSERT_EQ(call.accept().offer_ids_size(), 1);
  EXPECT_EQ(call.accept().offer_ids(0).value(), "o-1");
  ASSERT_EQ(call.accept().operations_size(), 1);
  const auto& operation = call.accept().operations(0);
  EXPECT_EQ(operation.type(), v1::Offer::Operation::LAUNCH);
  ASSERT_EQ(operation.launch().task_infos_size(), 1);
  EXPECT_EQ(operation.launch().task_infos(0).task_id().value(), "echo-1");
  EXPECT_DOUBLE_EQ(call.accept().filters().refuse_seconds(), 60);
  EXPECT_TRUE(call.IsInitialized());
}

TEST(SchedulerCalls, DeclineKillSuppressAndTeardown) {
  v1::OfferID a, b;
  a.set_value("o-a");
  b.set_value("o-b");
  auto decline = decline_call(framework_id("f"), {a, b}, 1);
  ASSERT_EQ(decline.decline().offer_ids_size(), 2);
  EXPECT_EQ(decline.decline().offer_ids(1).value(), "o-b");
  EXPECT_DOUBLE_EQ(decline.decline().filters().refuse_seconds(), 1);

  v1::TaskID task;
  task.set_value("t");
  v1::AgentID agent;
  agent.set_value("a");
  auto kill = kill_call(framework_id("f"), task, agent);
  EXPECT_EQ(kill.type(), sched::Call::KILL);
  EXPECT_EQ(kill.kill().task_id().value(), "t");
  EXPECT_EQ(kill.kill().agent_id().value(), "a");

  auto suppress = suppress_call(framework_id("f"), "*");
  EXPECT_EQ(suppress.type(), sched::Call::SUPPRESS);
  ASSERT_EQ(suppress.suppress().roles_size(), 1);

  auto teardown = teardown_call(framework_id("f"));
  EXPECT_EQ(teardown.type(), sched::Call::TEARDOWN);
  EXPECT_EQ(teardown.framework_id().value(), "f");
}

TEST(SchedulerCalls, AcknowledgeEchoesTheUpdateAndFallsBackToTheTasksAgent) {
  v1::TaskStatus status;
  status.mutable_task_id()->set_value("t");
  status.set_state(v1::TASK_RUNNING);
  status.set_uuid(std::string("\x00\x01\xff", 3));
  v1::AgentID fallback;
  fallback.set_value("a-fallback");
  auto ack = acknowledge_call(framework_id("f"), status, fallback);
  EXPECT_EQ(ack.type(), sched::Call::ACKNOWLEDGE);
  EXPECT_EQ(ack.acknowledge().agent_id().value(), "a-fallback");
  EXPECT_EQ(ack.acknowledge().task_id().value(), "t");
  EXPECT_EQ(ack.acknowledge().uuid(), std::string("\x00\x01\xff", 3));
  EXPECT_TRUE(ack.IsInitialized());

  status.mutable_agent_id()->set_value("a-status");
  EXPECT_EQ(acknowledge_call(framework_id("f"), status, fallback).acknowledge().agent_id().value(), "a-status");
}

}  // namespace
}  // namespace berth::cli
