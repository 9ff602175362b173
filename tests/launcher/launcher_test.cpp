// LinuxLauncher without namespaces or cgroups: everything here runs unprivileged.

#include "berth/launcher/launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include <gtest/gtest.h>

#include <thread>

#include "launcher/launcher_test_util.hpp"

namespace berth::launcher {
namespace {

using namespace std::chrono_literals;
using testing::open_fds;
using testing::slurp;
using testing::TempDir;

class LauncherTest : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(testing::has_no_children());
    EXPECT_TRUE(testing::no_processes_in(dir_.path(), 5s)) << "a process outlived the test";
  }

  Launched launch(std::vector<std::string> argv) {
    auto launched = launcher_.launch(testing::basic_request(dir_, std::move(argv)));
    if (!launched) ADD_FAILURE() << launched.error().what();
    return launched ? std::move(*launched) : Launched{};
  }

  TempDir dir_;
  LinuxLauncher launcher_;
};

TEST_F(LauncherTest, TrueExitsZero) {
  auto init = launch({"/bin/true"});
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = false, .code = 0}));
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = false, .code = 0}));
}

TEST_F(LauncherTest, ExitCodeIsRecordedAndPassedOn) {
  auto init = launch({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = false, .code = 3}));
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = false, .code = 3}));
}

TEST_F(LauncherTest, ProgramIsFoundInPathFromEnv) {
  auto init = launch({"sh", "-c", "exit 4"});
  EXPECT_EQ(reap(init.pidfd.get()).value().code, 4);
}

TEST_F(LauncherTest, MissingProgramIsAStructuredErrorAndLeavesNothing) {
  auto launched = launcher_.launch(testing::basic_request(dir_, {"/no/such/cmd"}));
  ASSERT_FALSE(launched.has_value());
  EXPECT_EQ(launched.error().message(), "execve");
  EXPECT_EQ(launched.error().code(), ENOENT);
  EXPECT_EQ(launched.error().path(), "/no/such/cmd");
  EXPECT_EQ(launched.error().context("Failed to launch").what(),
            "Failed to launch: execve '/no/such/cmd': No such file or directory");
  EXPECT_TRUE(testing::has_no_children());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exit_status"));
}

TEST_F(LauncherTest, FailingInitStepIsReportedWithItsPath) {
  auto request = testing::basic_request(dir_, {"/bin/true"});
  request.spec.process.cwd = (dir_ / "missing").string();
  auto launched = launcher_.launch(request);
  ASSERT_FALSE(launched.has_value());
  EXPECT_EQ(launched.error().what(), "chdir '" + (dir_ / "missing").string() + "': No such file or directory");
}

TEST_F(LauncherTest, InvalidRequestIsRejectedBeforeCloning) {
  auto request = testing::basic_request(dir_, {"/bin/true"});
  request.spec.hostname = "h";
  EXPECT_FALSE(launcher_.launch(request).has_value());
}

TEST_F(LauncherTest, OutputLandsInTheFilesAndTheTaskStartsInTheSandbox) {
  testing::write_text(dir_ / "stdout", "earlier\n");
  auto init = launch({"/bin/sh", "-c", "pwd; echo oops >&2; read x; echo \"stdin:$x\""});
  ASSERT_EQ(reap(init.pidfd.get()).value().code, 0);
  EXPECT_EQ(slurp(dir_ / "stdout"), "earlier\n" + dir_.path().string() + "\nstdin:\n");
  EXPECT_EQ(slurp(dir_ / "stderr"), "oops\n");
}

TEST_F(LauncherTest, TheTaskGetsExactlyItsEnvironment) {
  auto request = testing::basic_request(dir_, {"/usr/bin/env"});
  request.spec.process.env = {"A=1", "B=two words"};
  auto init = launcher_.launch(request);
  ASSERT_TRUE(init.has_value()) << init.error().what();
  ASSERT_EQ(reap(init->pidfd.get()).value().code, 0);
  EXPECT_EQ(slurp(dir_ / "stdout"), "A=1\nB=two words\n");
}

// The fds of the agent (here: one without O_CLOEXEC) reach neither init nor the task.
TEST_F(LauncherTest, InitAndTaskHoldNoFdsOfTheLauncher) {
  UniqueFd leaky(::open("/dev/null", O_RDONLY));
  auto init = launch({"/bin/sleep", "100"});
  auto children = slurp("/proc/" + std::to_string(init.pid) + "/task/" + std::to_string(init.pid) + "/children");
  pid_t task = std::stoi(children);
  EXPECT_EQ(open_fds("/proc/" + std::to_string(task) + "/fd"), (std::set<int>{0, 1, 2}));
  // init keeps only its runtime dir, to write exit_status through, and the
  // exit notice pipe. (Non-dumpable, its fds are root's to list.)
  if (::geteuid() == 0) {
    EXPECT_EQ(open_fds("/proc/" + std::to_string(init.pid) + "/fd"), (std::set<int>{0, 1, 2, 4, 7}));
  }
  ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGTERM, nullptr, 0);
  reap(init.pidfd.get());
}

// No pid namespace here, yet the task does not outlive a killed init.
TEST_F(LauncherTest, KillingInitKillsTheTask) {
  auto init = launch({"/bin/sleep", "100"});
  pid_t task = std::stoi(slurp("/proc/" + std::to_string(init.pid) + "/task/" + std::to_string(init.pid) + "/children"));
  UniqueFd task_fd(static_cast<int>(::syscall(SYS_pidfd_open, task, 0)));
  ASSERT_TRUE(task_fd);
  ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGKILL, nullptr, 0);
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = true, .code = SIGKILL}));
  EXPECT_TRUE(testing::wait_exited(task_fd.get(), 5s));
}

TEST_F(LauncherTest, SigtermToInitIsForwardedToTheTask) {
  auto init = launch({"/bin/sleep", "100"});
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGTERM, nullptr, 0), 0);
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = false, .code = 128 + SIGTERM}));
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = true, .code = SIGTERM}));
}

TEST_F(LauncherTest, TaskKilledBySignalIsRecordedAsSignaled) {
  auto init = launch({"/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = false, .code = 128 + SIGKILL}));
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = true, .code = SIGKILL}));
}

// Without a pid namespace init is a subreaper: orphans of the task become
// init's children, not the host init's.
TEST_F(LauncherTest, OrphansOfTheTaskAreAdoptedByInit) {
  auto init = launch({"/bin/sh", "-c", "(/bin/sleep 100 & echo $! > orphan.tmp; mv orphan.tmp orphan); exec /bin/sleep 100"});
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!std::filesystem::exists(dir_ / "orphan") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  pid_t orphan = std::stoi(slurp(dir_ / "orphan"));
  // Its parent, the subshell, may still be on its way out after writing the file.
  auto adopted = [&] {
    auto status = slurp("/proc/" + std::to_string(orphan) + "/status");
    return status.find("\nPPid:\t" + std::to_string(init.pid) + "\n") != std::string::npos;
  };
  deadline = std::chrono::steady_clock::now() + 5s;
  while (!adopted() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(adopted()) << slurp("/proc/" + std::to_string(orphan) + "/status");
  ::kill(orphan, SIGKILL);
  ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGTERM, nullptr, 0);
  EXPECT_EQ(reap(init.pidfd.get()).value().code, 128 + SIGTERM);
}

TEST_F(LauncherTest, AttachChecksTheStartTime) {
  auto init = launch({"/bin/sleep", "100"});
  EXPECT_EQ(process_start_time(init.pid).value(), init.start_time);
  auto attached = attach(init.pid, init.start_time);
  ASSERT_TRUE(attached.has_value()) << attached.error().what();
  EXPECT_EQ(::syscall(SYS_pidfd_send_signal, attached->get(), 0, nullptr, 0), 0);
  auto wrong = attach(init.pid, init.start_time + 1);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message().find("was reused"), std::string::npos);
  ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGTERM, nullptr, 0);
  reap(init.pidfd.get());
  EXPECT_FALSE(attach(init.pid, init.start_time).has_value());
}

TEST(ProcessTest, StartTimeOfAMissingProcessIsAnError) {
  EXPECT_FALSE(process_start_time(0x3fffffff).has_value());
}

}  // namespace
}  // namespace berth::launcher
