// A gated launch (OCI create, then start) observed from the host (root): the
// container is set up but runs nothing until its gate opens; an executable
// that is not there fails the launch itself; an init that dies first is
// reported by the opener; nothing is left behind either way.

#include <sys/resource.h>
#include <sys/syscall.h>

#include "launcher/rootfs_test_util.hpp"

namespace berth::launcher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StartGateTest : public testing::RootfsLaunchTest {
 protected:
  LaunchRequest gated(std::vector<std::string> args) {
    auto r = request(spec(std::move(args)));
    r.start = StartMode::gated;
    return r;
  }
  fs::path gate() const { return sandbox_ / kStartGateFile; }
};

TEST_F(StartGateTest, NothingRunsUntilTheGateOpens) {
  auto launched = launcher_.launch(gated({"sh", "-c", "echo ran; hostname"}));
  ASSERT_TRUE(launched) << launched.error().what();
  ASSERT_TRUE(fs::is_fifo(gate()));
  // Set up (init is in the cgroup, in its namespaces) yet the task has not run.
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(testing::wait_exited(launched->pidfd.get(), 0ms));
  EXPECT_EQ(testing::slurp(sandbox_ / "stdout"), "");
  EXPECT_TRUE(testing::cgroup_populated(cgroup_));

  auto opened = start_gate::open(sandbox_.path(), launched->pidfd.get());
  ASSERT_TRUE(opened) << opened.error().what();
  EXPECT_FALSE(fs::exists(gate()));
  auto status = reap(launched->pidfd.get());
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (ExitStatus{false, 0}));
  EXPECT_EQ(testing::slurp(sandbox_ / "stdout"), "ran\nberth-box\n");
  EXPECT_EQ(read_exit_status(sandbox_.path()), (ExitStatus{false, 0}));
}

TEST_F(StartGateTest, AMissingExecutableFailsTheLaunchNotTheStart) {
  auto launched = launcher_.launch(gated({"/bin/no-such-program"}));
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().message(), "find executable");
  EXPECT_EQ(launched.error().code(), ENOENT);
  EXPECT_EQ(launched.error().path(), "/bin/no-such-program");
  EXPECT_FALSE(fs::exists(gate()));
}

TEST_F(StartGateTest, ADirectoryIsNotAnExecutable) {
  auto launched = launcher_.launch(gated({"/tmp"}));
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().message(), "find executable");
  EXPECT_EQ(launched.error().code(), EACCES);
}

TEST_F(StartGateTest, OpeningTheGateOfADeadInitFails) {
  auto launched = launcher_.launch(gated({"true"}));
  ASSERT_TRUE(launched) << launched.error().what();
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, launched->pidfd.get(), SIGKILL, nullptr, 0), 0);
  ASSERT_TRUE(testing::wait_exited(launched->pidfd.get(), 5s));
  auto opened = start_gate::open(sandbox_.path(), launched->pidfd.get(), 2s);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().what().find("exited before start"), std::string::npos) << opened.error().what();
  EXPECT_TRUE(reap(launched->pidfd.get()));
  EXPECT_FALSE(fs::exists(sandbox_ / kExitStatusFile));  // no task ever ran
}

// Every setup step of the task runs before the gate: a gated launch reports
// its failures like any other.
TEST_F(StartGateTest, TaskSetupFailuresAreReportedByTheLaunch) {
  auto r = gated({"true"});
  rlimit current{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);
  // Raising a hard limit needs CAP_SYS_RESOURCE, which this host withholds even from root.
  r.spec.process.rlimits = {{RLIMIT_NOFILE, 64, current.rlim_max + 1}};
  auto launched = launcher_.launch(r);
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().message(), "setrlimit");
  EXPECT_EQ(launched.error().code(), EPERM);
  EXPECT_FALSE(fs::exists(gate()));
}

// Only execve (and loading seccomp) come after the gate: with no launcher
// left to tell, a failure there is written to the container's stderr.
TEST_F(StartGateTest, AnExecveFailingAfterTheGateSaysSoOnStderr) {
  testing::write_text(rootfs_ / "bin/not-a-program", "neither ELF nor script\n");
  fs::permissions(rootfs_ / "bin/not-a-program", fs::perms::owner_all);
  auto launched = launcher_.launch(gated({"/bin/not-a-program"}));
  ASSERT_TRUE(launched) << launched.error().what();
  ASSERT_TRUE(start_gate::open(sandbox_.path(), launched->pidfd.get()));
  auto status = reap(launched->pidfd.get());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 127);  // a task that could not run, as a shell says
  EXPECT_EQ(testing::slurp(sandbox_ / "stderr"), "berth: container setup failed: execve: Exec format error\n");
}

}  // namespace
}  // namespace berth::launcher
