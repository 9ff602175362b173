// End to end: the master and the agent restart under running tasks, and the
// agent is upgraded under them.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "berth/common/record.hpp"
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

struct RunningTask {
  std::string container_id;
  pid_t pid;
};

std::vector<RunningTask> running_tasks(Cluster& cluster) {
  std::vector<RunningTask> out;
  auto state = cluster.agent_state();
  if (!state.is_object()) return out;
  for (const auto& framework : state.at("frameworks").as_array()) {
    for (const auto& task : framework.at("tasks").as_array()) {
      if (task.at("state").as_string() != "TASK_RUNNING") continue;
      out.push_back({std::string(task.at("container_id").as_string()), static_cast<pid_t>(task.at("pid").as_int64())});
    }
  }
  return out;
}

// Checkpoints damaged while the agent is down (bit-flipped, truncated,
// missing): the agent starts, says what it could not recover, destroys the
// containers it cannot vouch for and keeps the rest.
TEST_F(RestartTest, DamagedCheckpointsAreReportedAndLeaveNoStrayProcess) {
  std::vector<Process> clis;
  for (int i = 0; i < 4; ++i) {
    clis.push_back(cluster_.run_async({"--name=t" + std::to_string(i), "--", "/bin/sleep", "1000"},
                                      cluster_.dir() / ("cli" + std::to_string(i) + ".log")));
  }
  ASSERT_TRUE(wait_until([&] { return running_tasks(cluster_).size() == 4; }, 30s)) << cluster_.agent_log();
  auto tasks = running_tasks(cluster_);
  auto dir_of = [&](int i) { return cluster_.dir() / "agent/containers" / tasks[i].container_id; };
  // TASK_RUNNING is in /state before its record is on disk: the damage is
  // done to records that exist.
  ASSERT_TRUE(wait_until([&] {
    for (int i = 0; i < 4; ++i) {
      if (!record::is_record(read_file(dir_of(i) / "status.pb"))) return false;
    }
    return true;
  }, 10s));
  cluster_.stop_agent(SIGKILL);
  auto flip = [](const std::filesystem::path& file) {
    auto data = read_file(file);
    data[data.size() / 2] ^= 0x10;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << data;
  };
  flip(dir_of(0) / "container.pb");
  std::filesystem::resize_file(dir_of(1) / "container.pb", 9);
  std::filesystem::remove(dir_of(2) / "container.pb");
  flip(dir_of(3) / "status.pb");  // the task is known; only its latest status is lost
  cluster_.start_agent();
  ASSERT_TRUE(cluster_.wait_for_agent()) << cluster_.agent_log();
  auto state = cluster_.agent_state();
  std::map<std::string, std::string> errors;
  for (const auto& problem : state.at("recovery_errors").as_array()) {
    errors[std::string(problem.at("container_id").as_string())] = problem.at("error").as_string();
  }
  EXPECT_NE(errors[tasks[0].container_id].find("checksum mismatch"), std::string::npos) << state;
  EXPECT_NE(errors[tasks[1].container_id].find("truncated"), std::string::npos) << state;
  EXPECT_NE(errors[tasks[3].container_id].find("status.pb: checksum mismatch"), std::string::npos) << state;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(wait_until([&] { return ::kill(tasks[i].pid, 0) != 0; }, 10s))
        << "task " << i << " (pid " << tasks[i].pid << ") outlived its unreadable checkpoint";
  }
  EXPECT_EQ(::kill(tasks[3].pid, 0), 0) << "the task with a damaged status runs on";
  auto running = running_tasks(cluster_);
  ASSERT_EQ(running.size(), 1u) << state;
  EXPECT_EQ(running[0].pid, tasks[3].pid);
  EXPECT_NE(http_get(cluster_.agent_port(), "/metrics").body().find("berth_agent_recovery_errors_total 4"),
            std::string::npos);
  for (auto& cli : clis) cli.signal(SIGINT);  // berth run kills its task, if it still has one
  for (auto& cli : clis) EXPECT_TRUE(cli.wait(30s));
  EXPECT_TRUE(wait_until([&] { return ::kill(tasks[3].pid, 0) != 0; }, 10s));
}

// An upgrade as a package manager and systemd do it: the new binary is
// renamed over the installed one while the agent runs, and the agent is
// stopped (SIGTERM) and started again from the installed path, with the
// same work directory. Every task keeps running in its container, with its
// pid, and ends as it would have.
TEST_F(RestartTest, AGracefulRestartIntoAnUpgradedBinaryKeepsEveryTask) {
  namespace fs = std::filesystem;
  auto installed = cluster_.dir() / "sbin/berth-agent";
  fs::create_directories(installed.parent_path());
  fs::copy_file(bin("berth-agent"), installed);
  EXPECT_EQ(cluster_.stop_agent(SIGTERM), 0);
  cluster_.set_agent_binary(installed);
  cluster_.start_agent();
  ASSERT_TRUE(cluster_.wait_for_agent()) << cluster_.agent_log();

  auto go = cluster_.dir() / "go";
  std::vector<Process> clis;
  for (int i = 0; i < 3; ++i) {
    auto script = "while [ ! -e " + go.string() + " ]; do sleep 0.1; done; echo survived " + std::to_string(i);
    clis.push_back(cluster_.run_async({"--name=t" + std::to_string(i), "--shell", "--", script},
                                      cluster_.dir() / ("cli" + std::to_string(i) + ".log")));
  }
  ASSERT_TRUE(wait_until([&] { return running_tasks(cluster_).size() == 3; }, 30s)) << cluster_.agent_log();
  auto before = running_tasks(cluster_);

  fs::copy_file(bin("berth-agent"), installed.string() + ".new");
  fs::rename(installed.string() + ".new", installed);
  struct stat upgraded {};
  ASSERT_EQ(::stat(installed.c_str(), &upgraded), 0);
  EXPECT_EQ(cluster_.stop_agent(SIGTERM), 0) << cluster_.agent_log();
  for (const auto& task : before) EXPECT_EQ(::kill(task.pid, 0), 0) << "a container died with the agent";
  cluster_.start_agent();
  ASSERT_TRUE(cluster_.wait_for_agent()) << cluster_.agent_log();
  // The agent that runs now is the new file.
  struct stat running {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(cluster_.agent_pid()) + "/exe").c_str(), &running), 0);
  EXPECT_EQ(running.st_ino, upgraded.st_ino);
  ASSERT_TRUE(wait_until([&] { return running_tasks(cluster_).size() == 3; }, 20s)) << cluster_.agent_log();
  auto after = running_tasks(cluster_);
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].container_id, before[i].container_id);
    EXPECT_EQ(after[i].pid, before[i].pid) << "restarted";
  }
  EXPECT_NE(cluster_.agent_log().find("re-attached"), std::string::npos) << cluster_.agent_log();

  std::ofstream(go) << "";
  for (int i = 0; i < 3; ++i) {
    auto code = clis[i].wait(30s);
    auto log = read_file(cluster_.dir() / ("cli" + std::to_string(i) + ".log"));
    ASSERT_TRUE(code.has_value()) << log;
    EXPECT_EQ(*code, 0) << log;
    EXPECT_NE(log.find("survived " + std::to_string(i)), std::string::npos) << log;
    EXPECT_EQ(log.find("RUNNING", log.find("RUNNING") + 1), std::string::npos) << "one RUNNING, no restart: " << log;
  }
}

}  // namespace
}  // namespace berth::testing
