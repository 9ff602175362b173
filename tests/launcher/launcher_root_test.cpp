// LinuxLauncher with new pid, mount, uts and ipc namespaces and a cgroup v2
// cgroup (root). Each test gets its own cgroup under the cgroup2 mount and
// checks that no process, cgroup or mount outlives it.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "berth/launcher/launcher.hpp"
#include "launcher/launcher_test_util.hpp"
#include "support/process.hpp"

namespace berth::launcher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::slurp;
using testing::TempDir;

constexpr char kCgroup2Mount[] = "/sys/fs/cgroup/unified";

std::string proc(pid_t pid, const std::string& entry) { return "/proc/" + std::to_string(pid) + "/" + entry; }

// Mounts this code could leave behind: any /proc mount and anything in the sandbox.
std::vector<std::string> relevant_mounts(const fs::path& sandbox) {
  std::vector<std::string> mounts;
  std::istringstream lines(slurp("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point.starts_with("/proc") || mount_point.starts_with(sandbox.string())) mounts.push_back(line);
  }
  return mounts;
}

bool cgroup_populated(const fs::path& cgroup) {
  return slurp(cgroup / "cgroup.events").find("populated 1") != std::string::npos;
}

// Kills whatever is left in `cgroup` and removes it (children first).
void remove_cgroup(const fs::path& cgroup) {
  if (!fs::exists(cgroup)) return;
  for (const auto& entry : fs::directory_iterator(cgroup)) {
    if (entry.is_directory()) remove_cgroup(entry.path());
  }
  testing::write_text(cgroup / "cgroup.kill", "1");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (cgroup_populated(cgroup) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ::rmdir(cgroup.c_str());
}

class LauncherRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_cgroup_ = fs::path(kCgroup2Mount) / ("berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    container_cgroup_ = root_cgroup_ / "container";
    ASSERT_TRUE(fs::create_directories(container_cgroup_));
    cgroup_fd_.reset(::open(container_cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(cgroup_fd_);
    mounts_before_ = relevant_mounts(sandbox_.path());
  }

  void TearDown() override {
    EXPECT_FALSE(cgroup_populated(root_cgroup_)) << "a process outlived the test";
    cgroup_fd_.reset();
    remove_cgroup(root_cgroup_);
    EXPECT_FALSE(fs::exists(root_cgroup_));
    EXPECT_TRUE(testing::has_no_children());
    EXPECT_EQ(relevant_mounts(sandbox_.path()), mounts_before_);
  }

  LaunchRequest request(std::vector<std::string> argv) {
    auto request = testing::basic_request(sandbox_, std::move(argv));
    testing::add_namespaces(request.spec, {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC});
    request.spec.hostname = "berth-task";
    request.spec.mounts.push_back({"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}});
    request.cgroup_fd = cgroup_fd_.get();
    return request;
  }

  Launched launch(std::vector<std::string> argv) {
    auto launched = launcher_.launch(request(std::move(argv)));
    if (!launched) ADD_FAILURE() << launched.error().what();
    return launched ? std::move(*launched) : Launched{};
  }

  // The task is init's only child right after launch.
  pid_t task_of(const Launched& init) { return std::stoi(slurp(proc(init.pid, "task/" + std::to_string(init.pid) + "/children"))); }

  void kill_and_reap(const Launched& init) {
    ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGKILL, nullptr, 0);
    (void)reap(init.pidfd.get());
  }

  TempDir sandbox_;
  fs::path root_cgroup_;
  fs::path container_cgroup_;
  UniqueFd cgroup_fd_;
  std::vector<std::string> mounts_before_;
  LinuxLauncher launcher_;
};

TEST_F(LauncherRootTest, TrueExitsZero) {
  auto init = launch({"/bin/true"});
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = false, .code = 0}));
  EXPECT_EQ(read_exit_status(sandbox_.path()).value(), (ExitStatus{.signaled = false, .code = 0}));
}

TEST_F(LauncherRootTest, ExitCodeThree) {
  auto init = launch({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(reap(init.pidfd.get()).value(), (ExitStatus{.signaled = false, .code = 3}));
  EXPECT_EQ(read_exit_status(sandbox_.path()).value(), (ExitStatus{.signaled = false, .code = 3}));
}

TEST_F(LauncherRootTest, TaskKilledBySigkillIsRecordedAsSignaled) {
  auto init = launch({"/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(reap(init.pidfd.get()).value().code, 128 + SIGKILL);
  EXPECT_EQ(read_exit_status(sandbox_.path()).value(), (ExitStatus{.signaled = true, .code = SIGKILL}));
}

// The exit notice: the task's status, once init has recorded it, without
// waiting for init to exit; EOF (EAGAIN) when init ends without one.
TEST_F(LauncherRootTest, TheExitNoticeCarriesTheRecordedStatus) {
  auto init = launch({"/bin/sh", "-c", "exit 7"});
  pollfd readable{init.exit_notice.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 10'000), 1);
  auto notice = read_exit_notice(init.exit_notice.get());
  ASSERT_TRUE(notice) << notice.error().what();
  EXPECT_EQ(*notice, (ExitStatus{.signaled = false, .code = 7}));
  EXPECT_EQ(read_exit_status(sandbox_.path()).value(), *notice);  // on record before the notice
  EXPECT_EQ(reap(init.pidfd.get()).value().code, 7);

  auto killed = launch({"/bin/sleep", "100"});
  auto early = read_exit_notice(killed.exit_notice.get());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code(), EAGAIN);  // still running
  kill_and_reap(killed);
  auto none = read_exit_notice(killed.exit_notice.get());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "the container's init ended without an exit notice");
}

TEST_F(LauncherRootTest, SigtermToInitIsForwardedToTheTask) {
  auto init = launch({"/bin/sleep", "100"});
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGTERM, nullptr, 0), 0);
  EXPECT_EQ(reap(init.pidfd.get()).value().code, 128 + SIGTERM);
  auto status = read_exit_status(sandbox_.path()).value();
  EXPECT_EQ(status, (ExitStatus{.signaled = true, .code = SIGTERM}));
  EXPECT_EQ(status.describe(), "killed by signal 15 (SIGTERM)");
}

TEST_F(LauncherRootTest, MissingBinaryIsAStructuredErrorAndLeavesNoProcess) {
  auto launched = launcher_.launch(request({"/no/such/cmd"}));
  ASSERT_FALSE(launched.has_value());
  EXPECT_EQ(launched.error().message(), "execve");
  EXPECT_EQ(launched.error().code(), ENOENT);
  EXPECT_EQ(launched.error().path(), "/no/such/cmd");
  EXPECT_EQ(slurp(container_cgroup_ / "cgroup.procs"), "");
  EXPECT_FALSE(cgroup_populated(container_cgroup_));
  EXPECT_TRUE(testing::has_no_children());
}

TEST_F(LauncherRootTest, StdoutAndStderrLandInTheFiles) {
  auto init = launch({"/bin/sh", "-c", "echo to-out; echo to-err >&2"});
  ASSERT_EQ(reap(init.pidfd.get()).value().code, 0);
  EXPECT_EQ(slurp(sandbox_ / "stdout"), "to-out\n");
  EXPECT_EQ(slurp(sandbox_ / "stderr"), "to-err\n");
}

TEST_F(LauncherRootTest, TaskIsPid2InAPidNamespaceWithAFreshProc) {
  // `read` is a shell builtin: /proc/self is the shell itself, as the container's /proc numbers it.
  auto init = launch({"/bin/sh", "-c", "echo $$ $PPID; read pid rest < /proc/self/stat; echo $pid"});
  ASSERT_EQ(reap(init.pidfd.get()).value().code, 0);
  EXPECT_EQ(slurp(sandbox_ / "stdout"), "2 1\n2\n");
}

TEST_F(LauncherRootTest, HostnameIsSetInTheContainerOnly) {
  auto host = slurp("/proc/sys/kernel/hostname");
  auto init = launch({"/bin/cat", "/proc/sys/kernel/hostname"});
  ASSERT_EQ(reap(init.pidfd.get()).value().code, 0);
  EXPECT_EQ(slurp(sandbox_ / "stdout"), "berth-task\n");
  EXPECT_EQ(slurp("/proc/sys/kernel/hostname"), host);
}

TEST_F(LauncherRootTest, TaskHasItsOwnNamespacesAndOnlyStdio) {
  auto init = launch({"/bin/sleep", "100"});
  pid_t task = task_of(init);
  for (const char* ns : {"pid", "mnt", "uts", "ipc"}) {
    EXPECT_NE(fs::read_symlink(proc(task, std::string("ns/") + ns)), fs::read_symlink(std::string("/proc/self/ns/") + ns))
        << ns;
  }
  EXPECT_EQ(fs::read_symlink(proc(task, "ns/net")), fs::read_symlink("/proc/self/ns/net"));
  // What the task holds once it sleeps: before its execve the launch's own
  // descriptors, close-on-exec, are still open, and sleep's start-up opens
  // and closes its locale files. A descriptor the launch leaked stays.
  ASSERT_TRUE(berth::testing::wait_until([&] { return slurp(proc(task, "comm")) == "sleep\n"; }, std::chrono::seconds(5)));
  berth::testing::wait_until([&] { return testing::open_fds(proc(task, "fd")) == std::set<int>{0, 1, 2}; },
                             std::chrono::seconds(5));
  EXPECT_EQ(testing::open_fds(proc(task, "fd")), (std::set<int>{0, 1, 2}));
  kill_and_reap(init);
}

TEST_F(LauncherRootTest, InitAndTaskAreInTheContainersCgroup) {
  auto init = launch({"/bin/sleep", "100"});
  auto expected = "0::/" + fs::relative(container_cgroup_, kCgroup2Mount).string() + "\n";
  EXPECT_NE(slurp(proc(init.pid, "cgroup")).find(expected), std::string::npos) << slurp(proc(init.pid, "cgroup"));
  EXPECT_NE(slurp(proc(task_of(init), "cgroup")).find(expected), std::string::npos);
  kill_and_reap(init);
}

TEST_F(LauncherRootTest, EverythingInThePidNamespaceDiesWithTheTask) {
  auto init = launch({"/bin/sh", "-c", "(/bin/sleep 100 &); exit 6"});
  EXPECT_EQ(reap(init.pidfd.get()).value().code, 6);
  EXPECT_EQ(slurp(container_cgroup_ / "cgroup.procs"), "");
}

TEST_F(LauncherRootTest, AttachToALiveInitAndRefuseAWrongStartTime) {
  auto init = launch({"/bin/sleep", "100"});
  auto attached = attach(init.pid, init.start_time);
  ASSERT_TRUE(attached.has_value()) << attached.error().what();
  EXPECT_EQ(::syscall(SYS_pidfd_send_signal, attached->get(), 0, nullptr, 0), 0);
  EXPECT_FALSE(attach(init.pid, init.start_time - 1).has_value());
  kill_and_reap(init);
  EXPECT_FALSE(attach(init.pid, init.start_time).has_value());
}

// The agent may exit and restart while containers run: init has no
// parent-death signal, the task finishes, and its status is on disk.
TEST_F(LauncherRootTest, InitSurvivesTheLaunchingProcess) {
  // As a subreaper, this process adopts init when the launching child exits, so it can reap it.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  pid_t agent = ::fork();
  if (agent == 0) {
    auto launched = launcher_.launch(request({"/bin/sh", "-c", "sleep 0.3; echo done; exit 4"}));
    Launched init = launched ? std::move(*launched) : Launched{};
    std::pair<pid_t, std::uint64_t> handle{init.pid, init.start_time};
    (void)!::write(report[1], &handle, sizeof handle);
    ::_exit(launched ? 0 : 1);
  }
  ::close(report[1]);
  std::pair<pid_t, std::uint64_t> handle{};
  ASSERT_EQ(::read(report[0], &handle, sizeof handle), static_cast<ssize_t>(sizeof handle));
  ::close(report[0]);
  int agent_status = 0;
  ASSERT_EQ(::waitpid(agent, &agent_status, 0), agent);
  ASSERT_EQ(agent_status, 0);

  auto pidfd = attach(handle.first, handle.second);
  ASSERT_TRUE(pidfd.has_value()) << pidfd.error().what();
  EXPECT_FALSE(testing::wait_exited(pidfd->get(), 100ms)) << "init died with the launching process";
  ASSERT_TRUE(testing::wait_exited(pidfd->get(), 10s));
  EXPECT_EQ(read_exit_status(sandbox_.path()).value(), (ExitStatus{.signaled = false, .code = 4}));
  EXPECT_EQ(slurp(sandbox_ / "stdout"), "done\n");
  EXPECT_EQ(reap(pidfd->get()).value().code, 4);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
}  // namespace berth::launcher
