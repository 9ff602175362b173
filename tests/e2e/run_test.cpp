// End to end: real berth-master and berth-agent processes, tasks run through
// the berth CLI in real namespaces and cgroups.

#include <gtest/gtest.h>

#include <regex>

#include "support/cluster_test.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

using RunTest = ClusterTest;

// The states a run printed, in order, without repeats.
std::vector<std::string> states(const std::string& err) {
  std::vector<std::string> out;
  std::regex line(R"(task \S+ (TASK_)?([A-Z_]+))");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator(); ++it) {
    auto state = (*it)[2].str();
    if (out.empty() || out.back() != state) out.push_back(state);
  }
  return out;
}

TEST_F(RunTest, SucceedingTaskPrintsItsOutputAndStates) {
  auto result = cluster_.run({"--cpus=0.1", "--mem=32", "--", "/bin/echo", "hello"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "hello\n");
  // A task with no image to fetch goes from STAGING straight to RUNNING.
  EXPECT_EQ(states(result.err), (std::vector<std::string>{"STAGING", "RUNNING", "FINISHED"}))
      << result.err;
}

TEST_F(RunTest, BridgeNetworkingOnAnAgentWithoutItFailsTheTaskClearly) {
  for (const char* mode : {"bridge", "none"}) {
    auto result = cluster_.run({std::string("--network=") + mode, "--", "/bin/true"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find(std::string(mode) + " networking is not enabled on this agent (--isolation network/bridge)"),
              std::string::npos)
        << result.err;
  }
}

TEST_F(RunTest, NonZeroExitIsTaskFailedWithTheExitCode) {
  auto result = cluster_.run({"--shell", "--", "echo oops >&2; exit 3"});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_NE(result.err.find("oops"), std::string::npos) << result.err;
  EXPECT_EQ(states(result.err).back(), "FAILED") << result.err;
  EXPECT_NE(result.err.find("exited with status 3"), std::string::npos) << result.err;
}

TEST_F(RunTest, MissingCommandFailsWithAClearMessage) {
  auto result = cluster_.run({"--", "/no/such/command"});
  EXPECT_EQ(result.exit_code, 127) << result.err;
  EXPECT_EQ(states(result.err).back(), "FAILED") << result.err;
  EXPECT_NE(result.err.find("/no/such/command"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("No such file or directory"), std::string::npos) << result.err;
}

TEST_F(RunTest, TaskKilledOnRequest) {
  auto started = std::chrono::steady_clock::now();
  auto result = cluster_.run({"--kill_after=1", "--", "/bin/sleep", "600"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_EQ(states(result.err).back(), "KILLED") << result.err;
  EXPECT_EQ(result.exit_code, 128 + SIGTERM) << result.err;
}

TEST_F(RunTest, TaskIgnoringSigtermIsKilledAfterTheGracePeriod) {
  auto result = cluster_.run({"--kill_after=1", "--shell", "--", "trap '' TERM; sleep 600"});
  EXPECT_EQ(states(result.err).back(), "KILLED") << result.err;
  EXPECT_EQ(result.exit_code, 128 + SIGKILL) << result.err;
}

// The task's kill policy, not the agent's 2 s default, sets how long SIGTERM is given.
TEST_F(RunTest, TheTasksKillPolicySetsItsGracePeriod) {
  auto started = std::chrono::steady_clock::now();
  auto result = cluster_.run({"--kill_after=0.5", "--kill_grace_period=0.1", "--shell", "--", "trap '' TERM; sleep 600"});
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(states(result.err).back(), "KILLED") << result.err;
  EXPECT_EQ(result.exit_code, 128 + SIGKILL) << result.err;
  EXPECT_LT(took, 2500ms) << "killed after the agent's default grace period, not the task's";
}

TEST_F(RunTest, LargeOutputArrivesCompleteAndInOrder) {
  auto result = cluster_.run({"--quiet", "--", "/usr/bin/seq", "1", "300000"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string expected;
  for (int i = 1; i <= 300000; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(result.out.size(), expected.size());
  EXPECT_TRUE(result.out == expected);
}

TEST_F(RunTest, TaskRunsInItsOwnNamespacesAndCgroup) {
  auto result = cluster_.run(
      {"--shell", "--", "echo pid=$$; hostname; cat /proc/self/cgroup; ls /proc | grep -c '^[0-9]'"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // The shell is the task; the container's init is pid 1.
  EXPECT_NE(result.out.find("pid=2\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(cluster_.cgroups_root().filename().string()), std::string::npos) << result.out;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(result.out.find(std::string(host) + "\n"), std::string::npos) << "hostname not isolated";
}

TEST_F(RunTest, EnvironmentAndSandbox) {
  auto result = cluster_.run({"--env=GREETING=hi", "--shell", "--", "echo $GREETING; pwd; echo $MESOS_SANDBOX"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::string greeting, pwd, sandbox;
  std::getline(lines, greeting);
  std::getline(lines, pwd);
  std::getline(lines, sandbox);
  EXPECT_EQ(greeting, "hi");
  EXPECT_EQ(pwd, sandbox);
  EXPECT_TRUE(pwd.starts_with(cluster_.dir().string())) << pwd;
}

TEST_F(RunTest, InterruptingTheCliKillsTheTask) {
  auto log = cluster_.dir() / "cli.log";
  auto cli = cluster_.run_async({"--", "/bin/sleep", "600"}, log);
  ASSERT_TRUE(wait_until([&] { return read_file(log).find("RUNNING") != std::string::npos; }, 20s))
      << read_file(log);
  cli.signal(SIGINT);
  auto code = cli.wait(20s);
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 130) << read_file(log);
  EXPECT_NE(read_file(log).find("KILLED"), std::string::npos) << read_file(log);
}

TEST_F(RunTest, TasksRunConcurrently) {
  std::vector<Process> clis;
  for (int i = 0; i < 4; ++i) {
    clis.push_back(cluster_.run_async({"--quiet", "--", "/bin/sleep", "1"},
                                      cluster_.dir() / ("cli-" + std::to_string(i) + ".log")));
  }
  auto started = std::chrono::steady_clock::now();
  for (auto& cli : clis) EXPECT_EQ(cli.wait(30s), 0);
  // Four one-second tasks side by side, not one after another.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

}  // namespace
}  // namespace berth::testing
