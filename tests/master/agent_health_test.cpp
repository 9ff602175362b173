// Agents that stop sending heartbeats: unreachable after the ping timeouts,
// their tasks TASK_UNREACHABLE for partition-aware frameworks and TASK_LOST
// for the others, and back again when the agent re-registers.

#include <boost/json.hpp>

#include "master_api_fixture.hpp"

namespace berth::master::testing {
namespace {

namespace json = boost::json;

class AgentHealthTest : public MasterApiTest {
 protected:
  Flags master_flags() override {
    auto flags = MasterApiTest::master_flags();
    flags.agent_ping_timeout = 0.2;
    flags.max_agent_ping_timeouts = 3;
    return flags;
  }

  void partition_aware(sched::Call& call) {
    call.mutable_subscribe()->mutable_framework_info()->add_capabilities()->set_type(
        v1::FrameworkInfo::Capability::PARTITION_AWARE);
  }

  // Keeps the agent alive with a HEARTBEAT call now and then.
  void heartbeat() {
    agent::Call beat;
    beat.set_type(agent::Call::HEARTBEAT);
    call("/api/v1/agent", beat, codec::Format::Protobuf, {}, agent_id_);
  }

  // Launches task t1 on the agent from the framework's first offer.
  void launch_t1() {
    ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
    auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);
    call("/api/v1/scheduler", accept(offer, {task("t1", "cpus:0.5;mem:128")}), codec::Format::Json,
         framework.stream_id);
    ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  }

  const v1::TaskStatus* last_update() const {
    const auto* event = framework.find(sched::Event::UPDATE);
    return event ? &event->update().status() : nullptr;
  }

  // The same agent id registering again, reporting t1 as running (or not).
  void reregister(bool with_task) {
    returned.events.clear();
    reregister_agent(returned, with_task);
  }

  EventStream<agent::Event> returned;
};

TEST_F(AgentHealthTest, AQuietAgentsTasksAreUnreachableThenComeBackWithIt) {
  register_agent(agent);
  subscribe_framework(framework, [&](sched::Call& call) { partition_aware(call); });
  launch_t1();
  // Heartbeats keep it reachable well past the 0.6 s limit.
  for (int i = 0; i < 10; ++i) {
    heartbeat();
    io_.run_for(100ms);
  }
  EXPECT_EQ(last_update(), nullptr);

  ASSERT_TRUE(run_until([&] { return last_update() != nullptr; }));
  EXPECT_EQ(last_update()->state(), v1::TASK_UNREACHABLE);
  EXPECT_EQ(last_update()->reason(), v1::TaskStatus::REASON_AGENT_REMOVED);
  EXPECT_TRUE(last_update()->has_unreachable_time());
  EXPECT_TRUE(run_until([&] { return agent.ended; })) << "the master closed the quiet agent's stream";
  auto state = json::parse(send_request(http::Verb::get, "/state").body());
  EXPECT_TRUE(state.at("slaves").at(0).at("unreachable").as_bool());
  EXPECT_EQ(state.at("frameworks").at(0).at("unreachable_tasks").as_array().size(), 1u);

  auto reconcile = framework_call(sched::Call::RECONCILE);
  reconcile.mutable_reconcile();  // empty: every task
  framework.events.clear();
  call("/api/v1/scheduler", reconcile, codec::Format::Json, framework.stream_id);
  ASSERT_TRUE(run_until([&] { return last_update() != nullptr; }));
  EXPECT_EQ(last_update()->state(), v1::TASK_UNREACHABLE);
  EXPECT_EQ(last_update()->reason(), v1::TaskStatus::REASON_RECONCILIATION);

  framework.events.clear();
  agent_id_ = state.at("slaves").at(0).at("id").as_string().c_str();
  reregister(/*with_task=*/true);
  ASSERT_TRUE(run_until([&] { return last_update() != nullptr; }));
  EXPECT_EQ(last_update()->state(), v1::TASK_RUNNING);
  EXPECT_EQ(last_update()->reason(), v1::TaskStatus::REASON_AGENT_REREGISTERED);
  state = json::parse(send_request(http::Verb::get, "/state").body());
  EXPECT_FALSE(state.at("slaves").at(0).at("unreachable").as_bool());
  EXPECT_EQ(state.at("frameworks").at(0).at("tasks").as_array().size(), 1u);
  EXPECT_TRUE(state.at("frameworks").at(0).at("unreachable_tasks").as_array().empty());

  // A task the master does not know: gone if its agent is registered,
  // unknown if no agent is named.
  auto ask = [&](bool with_agent) {
    framework.events.clear();
    auto explicit_reconcile = framework_call(sched::Call::RECONCILE);
    auto* wanted = explicit_reconcile.mutable_reconcile()->add_tasks();
    wanted->mutable_task_id()->set_value("never-launched");
    if (with_agent) wanted->mutable_agent_id()->set_value(agent_id_);
    call("/api/v1/scheduler", explicit_reconcile, codec::Format::Json, framework.stream_id);
    EXPECT_TRUE(run_until([&] { return last_update() != nullptr; }));
    return last_update() ? last_update()->state() : v1::TASK_STAGING;
  };
  EXPECT_EQ(ask(true), v1::TASK_GONE);
  EXPECT_EQ(ask(false), v1::TASK_UNKNOWN);
  returned.response->close();
}

TEST_F(AgentHealthTest, OtherFrameworksHearTaskLostAndAnAgentBackWithoutTheTaskEndsIt) {
  register_agent(agent);
  subscribe_framework(framework);  // not partition-aware
  launch_t1();
  ASSERT_TRUE(run_until([&] { return last_update() != nullptr; }));
  EXPECT_EQ(last_update()->state(), v1::TASK_LOST);
  EXPECT_EQ(last_update()->reason(), v1::TaskStatus::REASON_AGENT_REMOVED);

  framework.events.clear();
  reregister(/*with_task=*/false);
  ASSERT_TRUE(run_until([&] { return last_update() != nullptr; }));
  EXPECT_EQ(last_update()->state(), v1::TASK_LOST);
  EXPECT_EQ(last_update()->reason(), v1::TaskStatus::REASON_AGENT_REREGISTERED);

  // Unknown tasks reconcile as TASK_LOST for a framework that is not partition-aware.
  framework.events.clear();
  auto reconcile = framework_call(sched::Call::RECONCILE);
  reconcile.mutable_reconcile();  // empty: every task
  reconcile.mutable_reconcile()->add_tasks()->mutable_task_id()->set_value("t1");
  call("/api/v1/scheduler", reconcile, codec::Format::Json, framework.stream_id);
  ASSERT_TRUE(run_until([&] { return last_update() != nullptr; }));
  EXPECT_EQ(last_update()->state(), v1::TASK_LOST);
  returned.response->close();
}

}  // namespace
}  // namespace berth::master::testing
