// End to end: the master and the agent restart under running tasks.

#include <gtest/gtest.h>

#include <thread>

#include "support/cluster_test.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

using RestartTest = ClusterTest;

TEST_F(RestartTest, MasterRestartWhileATaskRuns) {
  auto log = cluster_.dir() / "cli.log";
  auto cli = cluster_.run_async({"--shell", "--", "sleep 4; echo survived"}, log);
  ASSERT_TRUE(wait_until([&] { return cluster_.running_task_pid() > 0; }, 20s)) << read_file(log);

  EXPECT_EQ(cluster_.stop_master(SIGKILL), 128 + SIGKILL);
  cluster_.start_master();
  // The agent re-registers with the new master, reporting its running task.
  ASSERT_TRUE(cluster_.wait_for_agent(20s)) << cluster_.agent_log();

  auto code = cli.wait(60s);
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 0) << read_file(log);
  auto output = read_file(log);
  EXPECT_NE(output.find("survived"), std::string::npos) << output;
  EXPECT_NE(output.find("FINISHED"), std::string::npos) << output;
  EXPECT_NE(cluster_.agent_log().find("Re-registered"), std::string::npos) << cluster_.agent_log();
}

TEST_F(RestartTest, AgentRestartKeepsTheTaskRunning) {
  auto log = cluster_.dir() / "cli.log";
  auto cli = cluster_.run_async({"--shell", "--", "sleep 4; echo survived"}, log);
  std::int64_t pid = 0;
  ASSERT_TRUE(wait_until([&] { return (pid = cluster_.running_task_pid()) > 0; }, 20s)) << read_file(log);

  EXPECT_EQ(cluster_.stop_agent(SIGTERM), 0);
  EXPECT_EQ(::kill(static_cast<pid_t>(pid), 0), 0) << "the container died with the agent";
  cluster_.start_agent();
  ASSERT_TRUE(wait_until([&] { return cluster_.running_task_pid() == pid; }, 20s)) << cluster_.agent_log();

  auto code = cli.wait(60s);
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 0) << read_file(log) << cluster_.agent_log();
  EXPECT_NE(read_file(log).find("survived"), std::string::npos) << read_file(log);
}

TEST_F(RestartTest, TaskThatEndsWhileTheAgentIsDownReportsItsTrueStatus) {
  auto log = cluster_.dir() / "cli.log";
  auto cli = cluster_.run_async({"--shell", "--", "sleep 1; exit 7"}, log);
  ASSERT_TRUE(wait_until([&] { return cluster_.running_task_pid() > 0; }, 20s)) << read_file(log);
  cluster_.stop_agent(SIGKILL);
  std::this_thread::sleep_for(2s);  // the task ends while no agent watches it
  cluster_.start_agent();
  auto code = cli.wait(60s);
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 7) << read_file(log) << cluster_.agent_log();
  EXPECT_NE(read_file(log).find("FAILED"), std::string::npos) << read_file(log);
}

}  // namespace
}  // namespace berth::testing
