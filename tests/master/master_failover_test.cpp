// A master restarted with the same --work_dir: it remembers which agents it
// had admitted, gives them --agent_reregister_timeout to come back, and
// until then does not answer a reconciliation of their tasks with
// TASK_LOST, as Mesos's master behaves after a failover.

#include <boost/json.hpp>

#include <fstream>

#include "master_api_fixture.hpp"
#include "support/temp_dir.hpp"

namespace berth::master::testing {
namespace {

namespace json = boost::json;

class MasterFailoverTest : public MasterApiTest {
 protected:
  Flags master_flags() override {
    auto flags = MasterApiTest::master_flags();
    flags.work_dir = work_dir_.path().string();
    flags.agent_reregister_timeout = reregister_timeout_;
    return flags;
  }

  // The framework and agent connected, t1 launched on the agent; then the master restarts.
  void run_t1_and_restart() {
    register_agent(agent);
    subscribe_framework(framework, [](sched::Call& call) {
      call.mutable_subscribe()->mutable_framework_info()->set_failover_timeout(600);
    });
    ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
    auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);
    call("/api/v1/scheduler", accept(offer, {task("t1", "cpus:0.5;mem:128")}), codec::Format::Json,
         framework.stream_id);
    ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
    restart();
  }

  void close_streams() {
    auto close = [](auto& stream) {
      if (stream.response && !stream.ended) stream.response->close();
    };
    close(agent);
    close(framework);
    close(agent_again);
    close(framework_again);
  }

  void restart() {
    close_streams();
    master_->stop();
    ASSERT_TRUE(run_until([&] {
      return (!agent.response || agent.ended) && (!framework.response || framework.ended) &&
             (!agent_again.response || agent_again.ended) && (!framework_again.response || framework_again.ended);
    }));
    io_.run_for(50ms);
    agent_again = {};
    framework_again = {};
    start_master(master_flags());
    // The framework fails over to the new master under its id.
    sched::Call call;
    call.set_type(sched::Call::SUBSCRIBE);
    auto* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("root");
    info->set_name("test");
    info->set_failover_timeout(600);
    info->mutable_id()->set_value(framework_id_);
    call.mutable_framework_id()->set_value(framework_id_);
    subscribe(framework_again, "/api/v1/scheduler", call, codec::Format::Json);
    ASSERT_TRUE(run_until([&] { return framework_again.find(sched::Event::SUBSCRIBED) != nullptr; }));
  }

  // The framework asks after `task_id` on `agent_id`; the answer, if one comes within `wait`.
  std::optional<v1::TaskStatus> reconcile(const std::string& task_id, const std::string& agent_id,
                                          std::chrono::milliseconds wait = 2s) {
    framework_again.events.clear();
    auto ask = framework_call(sched::Call::RECONCILE);
    auto* wanted = ask.mutable_reconcile()->add_tasks();
    wanted->mutable_task_id()->set_value(task_id);
    wanted->mutable_agent_id()->set_value(agent_id);
    call("/api/v1/scheduler", ask, codec::Format::Json, framework_again.stream_id);
    run_until([&] { return framework_again.find(sched::Event::UPDATE) != nullptr; }, wait);
    const auto* event = framework_again.find(sched::Event::UPDATE);
    if (!event) return std::nullopt;
    return event->update().status();
  }

  std::vector<std::string> recovered_agents() {
    std::vector<std::string> out;
    auto state = json::parse(send_request(http::Verb::get, "/state").body());
    for (const auto& agent : state.at("recovered_slaves").as_array()) out.emplace_back(agent.at("id").as_string());
    return out;
  }

  void TearDown() override {
    close_streams();
    MasterApiTest::TearDown();
  }

  berth::testing::TempDir work_dir_;
  double reregister_timeout_ = 600;
  EventStream<agent::Event> agent_again;
  EventStream<sched::Event> framework_again;
};

TEST_F(MasterFailoverTest, TasksOfAnAgentThatMayStillReturnGetNoAnswerUntilItDoes) {
  run_t1_and_restart();
  EXPECT_EQ(recovered_agents(), std::vector<std::string>{agent_id_});
  EXPECT_EQ(reconcile("t1", agent_id_, 500ms), std::nullopt) << "the agent may still report it";
  // An agent this master never admitted cannot have it.
  auto other = reconcile("t1", "S-elsewhere");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->state(), v1::TASK_LOST);

  reregister_agent(agent_again, true);
  EXPECT_TRUE(recovered_agents().empty());
  auto answer = reconcile("t1", agent_id_);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->state(), v1::TASK_RUNNING);
  EXPECT_EQ(answer->reason(), v1::TaskStatus::REASON_RECONCILIATION);
  // A task the returned agent did not report is lost.
  auto unknown = reconcile("t2", agent_id_);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->state(), v1::TASK_LOST);

  // Restarted again, the master still knows the agent.
  restart();
  EXPECT_EQ(recovered_agents(), std::vector<std::string>{agent_id_});
}

TEST_F(MasterFailoverTest, AnAgentThatDoesNotReturnInTimeIsForgottenAndItsTasksAreLost) {
  reregister_timeout_ = 0.3;
  run_t1_and_restart();
  EXPECT_EQ(recovered_agents(), std::vector<std::string>{agent_id_});
  ASSERT_TRUE(run_until([&] { return recovered_agents().empty(); }, 5s));
  auto answer = reconcile("t1", agent_id_);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->state(), v1::TASK_LOST);
  restart();
  EXPECT_TRUE(recovered_agents().empty()) << "forgotten for good";
}

TEST_F(MasterFailoverTest, ADamagedRegistryStopsTheMasterWithTheFileNamed) {
  run_t1_and_restart();
  close_streams();
  master_->stop();
  run_until([&] { return framework_again.ended; });
  {
    std::ofstream damage(work_dir_ / "agents", std::ios::binary | std::ios::in | std::ios::out);
    damage.seekp(-2, std::ios::end);
    damage.put('#');
  }
  auto flags = master_flags();
  Master restarted(io_.get_executor(), flags);
  auto started = restarted.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().what().find((work_dir_ / "agents").string()), std::string::npos) << started.error().what();
  restarted.stop();
  // The operator's way out: remove the file; the agents are taken back as they re-register.
  std::filesystem::remove(work_dir_ / "agents");
  start_master(flags);
  EXPECT_TRUE(recovered_agents().empty());
}

}  // namespace
}  // namespace berth::master::testing
