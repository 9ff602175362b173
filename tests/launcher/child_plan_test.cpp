#include "berth/launcher/child_plan.hpp"

#include <sched.h>

#include <gtest/gtest.h>

#include "launcher/launcher_test_util.hpp"

namespace berth::launcher {
namespace {

using testing::TempDir;

TEST(ExecCandidatesTest, ProgramWithASlashIsTriedAsGiven) {
  EXPECT_EQ(exec_candidates("/bin/true", {"PATH=/x"}), std::vector<std::string>{"/bin/true"});
  EXPECT_EQ(exec_candidates("./run.sh", {"PATH=/x"}), std::vector<std::string>{"./run.sh"});
}

TEST(ExecCandidatesTest, BareNameIsSearchedInPathFromEnv) {
  EXPECT_EQ(exec_candidates("sh", {"HOME=/", "PATH=/opt/bin:/bin"}),
            (std::vector<std::string>{"/opt/bin/sh", "/bin/sh"}));
}

TEST(ExecCandidatesTest, FirstPathDefinitionWins) {
  EXPECT_EQ(exec_candidates("sh", {"PATH=/a", "PATH=/b"}), std::vector<std::string>{"/a/sh"});
}

TEST(ExecCandidatesTest, EmptyPathElementMeansCurrentDirectory) {
  EXPECT_EQ(exec_candidates("run", {"PATH=/a::/b"}), (std::vector<std::string>{"/a/run", "./run", "/b/run"}));
}

TEST(ExecCandidatesTest, DefaultPathWithoutPathInEnv) {
  auto candidates = exec_candidates("sh", {"HOME=/"});
  ASSERT_FALSE(candidates.empty());
  EXPECT_EQ(candidates.front(), "/usr/local/sbin/sh");
  EXPECT_EQ(candidates.back(), "/bin/sh");
}

class ValidateTest : public ::testing::Test {
 protected:
  TempDir dir_;
  LaunchRequest request_ = testing::basic_request(dir_, {"/bin/true"});
};

TEST_F(ValidateTest, AcceptsAWellFormedRequest) {
  request_.namespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  request_.hostname = "task-1";
  EXPECT_TRUE(validate(request_).has_value());
}

TEST_F(ValidateTest, RejectsEmptyArgv) {
  request_.argv.clear();
  EXPECT_EQ(validate(request_).error().message(), "argv is empty");
}

TEST_F(ValidateTest, RejectsAHostnameWithoutUtsNamespace) {
  request_.hostname = "task-1";
  EXPECT_EQ(validate(request_).error().message(), "a hostname needs a new UTS namespace (CLONE_NEWUTS)");
}

TEST_F(ValidateTest, RejectsUserNamespacesAndOtherCloneFlags) {
  request_.namespaces = CLONE_NEWUSER;
  EXPECT_FALSE(validate(request_).has_value());
  request_.namespaces = CLONE_VM;
  EXPECT_FALSE(validate(request_).has_value());
}

TEST_F(ValidateTest, RejectsMissingPathsAndMalformedEnv) {
  auto missing_stdout = request_;
  missing_stdout.stdout_path.clear();
  EXPECT_EQ(validate(missing_stdout).error().message(), "stdout_path is empty");
  auto bad_env = request_;
  bad_env.env.push_back("NOEQUALS");
  EXPECT_FALSE(validate(bad_env).has_value());
  auto nul_arg = request_;
  nul_arg.argv.push_back(std::string("a\0b", 3));
  EXPECT_FALSE(validate(nul_arg).has_value());
}

TEST_F(ValidateTest, ChildPlanHoldsNullTerminatedArrays) {
  request_.argv = {"sh", "-c", "exit 3"};
  ChildPlan plan(request_);
  EXPECT_STREQ(plan.argv()[0], "sh");
  EXPECT_STREQ(plan.argv()[2], "exit 3");
  EXPECT_EQ(plan.argv()[3], nullptr);
  EXPECT_STREQ(plan.envp()[0], "PATH=/usr/bin:/bin");
  EXPECT_EQ(plan.envp()[2], nullptr);
  ASSERT_EQ(plan.exec_candidates().size(), 2u);
  EXPECT_STREQ(plan.exec_candidates()[1], "/bin/sh");
  EXPECT_STREQ(plan.stdout_path(), (dir_ / "stdout").c_str());
}

TEST_F(ValidateTest, FailuresNameTheirStepAndPath) {
  request_.argv = {"/no/such/cmd"};
  ChildPlan plan(request_);
  EXPECT_EQ(step_name(ChildStep::kExecve), "execve");
  EXPECT_EQ(plan.path_for(ChildStep::kExecve), "/no/such/cmd");
  EXPECT_EQ(step_name(ChildStep::kChdir), "chdir");
  EXPECT_EQ(plan.path_for(ChildStep::kChdir), dir_.path().string());
  EXPECT_EQ(step_name(ChildStep::kOpenStderr), "open stderr");
  EXPECT_EQ(plan.path_for(ChildStep::kOpenStderr), (dir_ / "stderr").string());
  EXPECT_EQ(plan.path_for(ChildStep::kIsolateFds), "");
}

}  // namespace
}  // namespace berth::launcher
