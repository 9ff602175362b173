// CgroupsIsolator on the real cgroup2 hierarchy (root). Each test gets its own
// root cgroup under the cgroup2 mount, removed afterwards.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups.hpp"
#include "isolators/isolators_test_util.hpp"
#include "support/root.hpp"

namespace berth::isolators {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::slurp;

using testing::cgroup2_mount;
using testing::words;

bool was_killed(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

class CgroupsRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    BERTH_REQUIRE_ROOT();
    root_ = cgroup2_mount() / ("berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    auto created = CgroupsIsolator::create(root_);
    ASSERT_TRUE(created.has_value()) << created.error().what();
    isolator_ = std::move(*created);
  }

  void TearDown() override {
    auto destroyed = cgroupfs::destroy(root_);
    EXPECT_TRUE(destroyed.has_value()) << destroyed.error().what();
    EXPECT_FALSE(fs::exists(root_));
    for (pid_t pid : started_) ::waitpid(pid, nullptr, WNOHANG);
    siginfo_t info{};
    EXPECT_TRUE(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD);
  }

  // Runs `argv` in `cgroup` (moved there right after fork).
  pid_t start_in(const fs::path& cgroup, std::vector<const char*> argv) {
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execv(argv[0], const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    started_.push_back(pid);
    auto moved = cgroupfs::write_file(cgroup / "cgroup.procs", std::to_string(pid));
    EXPECT_TRUE(moved.has_value()) << moved.error().what();
    return pid;
  }
  pid_t start_sleep_in(const fs::path& cgroup) { return start_in(cgroup, {"/bin/sleep", "100"}); }

  fs::path prepare(const std::string& id) {
    auto info = isolator_->prepare(ContainerConfig{.container_id = id, .limits = {.cpus = 1, .mem_bytes = 64 << 20}});
    EXPECT_TRUE(info.has_value()) << info.error().what();
    return info && info->cgroup ? *info->cgroup : fs::path();
  }

  fs::path root_;
  std::unique_ptr<CgroupsIsolator> isolator_;
  std::vector<pid_t> started_;
};

TEST_F(CgroupsRootTest, CreateMakesTheRootAndDetectsItsControllers) {
  EXPECT_TRUE(fs::is_directory(root_));
  EXPECT_EQ(isolator_->name(), "cgroups");
  EXPECT_EQ(isolator_->available_controllers(), words(slurp(root_ / "cgroup.controllers")));
  // Without requirements: every kernel controller the root offers, passed on to the containers.
  auto passed_on = words(slurp(root_ / "cgroup.subtree_control"));
  for (const auto& name : isolator_->enabled_controllers()) {
    EXPECT_NE(std::ranges::find(passed_on, name), passed_on.end()) << name;
  }
  EXPECT_EQ(isolator_->controllers(), isolator_->enabled_controllers());
  // The rest of the kernel controllers Berth knows are listed as missing, not an error.
  EXPECT_EQ(isolator_->enabled_controllers().size() + isolator_->missing_controllers().size(), 6u);
}

TEST_F(CgroupsRootTest, CreateMakesMissingParentsUnderCgroup2) {
  auto nested = root_ / "agent" / "containers";
  auto created = CgroupsIsolator::create(nested);
  ASSERT_TRUE(created.has_value()) << created.error().what();
  EXPECT_EQ((*created)->root(), nested);
  EXPECT_TRUE(fs::is_directory(nested));
  // The controllers reach the nested root through each new directory.
  EXPECT_EQ((*created)->enabled_controllers(), isolator_->enabled_controllers());
}

TEST_F(CgroupsRootTest, PrepareCreatesTheContainersCgroup) {
  auto cgroup = prepare("c1");
  EXPECT_EQ(cgroup, root_ / "c1");
  EXPECT_EQ(isolator_->cgroup_path("c1"), cgroup);
  EXPECT_TRUE(fs::exists(cgroup / "cgroup.procs"));
  EXPECT_EQ(isolator_->list().value(), std::vector<std::string>{"c1"});
  auto fd = isolator_->open("c1");
  ASSERT_TRUE(fd.has_value()) << fd.error().what();
  struct stat st {};
  ASSERT_EQ(::fstat(fd->get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
}

TEST_F(CgroupsRootTest, PrepareTwiceIsAnError) {
  prepare("c1");
  auto again = isolator_->prepare(ContainerConfig{.container_id = "c1"});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), EEXIST);
  EXPECT_EQ(again.error().path(), (root_ / "c1").string());
}

TEST_F(CgroupsRootTest, UsageReportsProcessesAndCpuTime) {
  auto cgroup = prepare("c1");
  start_in(cgroup, {"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec /bin/sleep 100"});
  Usage usage;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    std::this_thread::sleep_for(10ms);
    auto read = isolator_->usage("c1");
    ASSERT_TRUE(read.has_value()) << read.error().what();
    usage = *read;
  } while ((usage.cpu_usage_usec == 0 || usage.pids_current != 1) && std::chrono::steady_clock::now() < deadline);
  EXPECT_GT(usage.cpu_usage_usec, 0u);
  EXPECT_GE(usage.cpu_usage_usec, usage.cpu_user_usec);
  EXPECT_EQ(usage.pids_current, 1u);
  EXPECT_EQ(usage.memory_current.has_value(), fs::exists(cgroup / "memory.current"));
  ASSERT_TRUE(isolator_->cleanup("c1").has_value());
}

TEST_F(CgroupsRootTest, UsageOfAnUnknownContainerIsAnError) {
  auto usage = isolator_->usage("nope");
  ASSERT_FALSE(usage.has_value());
  EXPECT_EQ(usage.error().code(), ENOENT);
}

TEST_F(CgroupsRootTest, CleanupKillsARunningContainerAndRemovesItsCgroup) {
  auto cgroup = prepare("c1");
  pid_t sleeper = start_sleep_in(cgroup);
  ASSERT_TRUE(cgroupfs::is_populated(cgroup).value());
  auto cleaned = isolator_->cleanup("c1");
  ASSERT_TRUE(cleaned.has_value()) << cleaned.error().what();
  EXPECT_FALSE(fs::exists(cgroup));
  EXPECT_TRUE(was_killed(sleeper));
  EXPECT_TRUE(isolator_->list().value().empty());
}

TEST_F(CgroupsRootTest, CleanupRemovesNestedCgroups) {
  auto cgroup = prepare("c1");
  ASSERT_TRUE(fs::create_directories(cgroup / "inner" / "deeper"));
  pid_t sleeper = start_sleep_in(cgroup / "inner" / "deeper");
  ASSERT_TRUE(isolator_->cleanup("c1").has_value());
  EXPECT_FALSE(fs::exists(cgroup));
  EXPECT_TRUE(was_killed(sleeper));
}

TEST_F(CgroupsRootTest, CleanupOfAnUnknownContainerIsFine) {
  EXPECT_TRUE(isolator_->cleanup("never-prepared").has_value());
}

TEST_F(CgroupsRootTest, RecoverDestroysOrphansAndKeepsKnownContainers) {
  prepare("known");
  auto orphan = prepare("orphan-1");
  prepare("orphan-2");
  pid_t sleeper = start_sleep_in(orphan);
  auto recovered = isolator_->recover({"known", "gone-without-cgroup"});
  ASSERT_TRUE(recovered.has_value()) << recovered.error().what();
  EXPECT_EQ(isolator_->list().value(), std::vector<std::string>{"known"});
  EXPECT_TRUE(was_killed(sleeper));
}

TEST_F(CgroupsRootTest, WaitingForARunningCgroupTimesOut) {
  auto cgroup = prepare("c1");
  start_sleep_in(cgroup);
  auto waited = cgroupfs::wait_unpopulated(cgroup, 100ms);
  ASSERT_FALSE(waited.has_value());
  EXPECT_EQ(waited.error().code(), ETIMEDOUT);
  ASSERT_TRUE(isolator_->cleanup("c1").has_value());
}

}  // namespace
}  // namespace berth::isolators
