// End to end: an agent that goes quiet (stopped with SIGSTOP, as a network
// partition would look to the master) while a task runs. The master marks
// it unreachable and `berth run` (a partition-aware framework) hears
// TASK_UNREACHABLE and waits; when the agent wakes up it re-registers with
// the task, which never stopped, and the run ends as the task does.

#include <gtest/gtest.h>

#include <csignal>

#include "support/cluster.hpp"
#include "support/root.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

class PartitionTest : public ::testing::Test {
 protected:
  void SetUp() override { BERTH_REQUIRE_ROOT(); }
  void TearDown() override {
    if (!::testing::Test::IsSkipped()) cluster_.check_no_leaks();
  }

  bool agent_unreachable() {
    auto state = cluster_.master_state();
    if (!state.is_object() || state.at("slaves").as_array().empty()) return false;
    return state.at("slaves").at(0).at("unreachable").as_bool();
  }


  Cluster cluster_{Cluster::Options{.master_flags = {"--agent_ping_timeout=0.3", "--max_agent_ping_timeouts=2"},
                                    .agent_flags = {"--heartbeat_interval=0.1"}}};
};

TEST_F(PartitionTest, AQuietAgentIsUnreachableAndItsTaskSurvivesItsReturn) {
  cluster_.start_master();
  cluster_.start_agent();
  ASSERT_TRUE(cluster_.wait_for_agent()) << cluster_.agent_log();
  auto log = cluster_.dir() / "cli.log";
  auto cli = cluster_.run_async({"--shell", "--", "sleep 5; echo survived"}, log);
  std::int64_t pid = 0;
  ASSERT_TRUE(wait_until([&] { return (pid = cluster_.running_task_pid()) > 0; }, 20s)) << read_file(log);

  ::kill(cluster_.agent_pid(), SIGSTOP);
  EXPECT_TRUE(wait_until([&] { return agent_unreachable(); }, 10s)) << cluster_.master_log();
  EXPECT_TRUE(wait_until([&] { return read_file(log).find("UNREACHABLE") != std::string::npos; }, 10s))
      << read_file(log);
  EXPECT_EQ(::kill(static_cast<pid_t>(pid), 0), 0) << "the task runs on";
  ::kill(cluster_.agent_pid(), SIGCONT);

  EXPECT_TRUE(wait_until([&] { return !agent_unreachable() && cluster_.running_task_pid() == pid; }, 20s))
      << cluster_.master_log() << cluster_.agent_log();
  auto code = cli.wait(60s);
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 0) << read_file(log) << cluster_.master_log();
  EXPECT_NE(read_file(log).find("survived"), std::string::npos) << read_file(log);
}

}  // namespace
}  // namespace berth::testing
