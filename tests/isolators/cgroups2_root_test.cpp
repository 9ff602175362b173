// The cgroup v2 controllers on the real kernel (root), as far as the host
// offers them: on the hybrid build host, the core files and hugetlb; in the
// test VM, everything. Each test works under its own root cgroup below the
// cgroup2 mount, removed afterwards.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/cgroups2/devices.hpp"
#include "berth/isolators/cgroups2/stats_sampler.hpp"
#include "isolators/isolators_test_util.hpp"
#include "support/root.hpp"

namespace berth::isolators {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::slurp;
using Names = std::vector<std::string>;

using testing::cgroup2_mount;
using testing::words;

bool offers(const fs::path& dir, const std::string& controller) {
  auto names = words(slurp(dir / "cgroup.controllers"));
  return std::ranges::find(names, controller) != names.end();
}

class Cgroups2RootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    mount_ = cgroup2_mount();
    ASSERT_FALSE(mount_.empty()) << "no cgroup2 mount";
    static std::atomic<int> counter{0};
    root_ = mount_ / ("berth-cg2-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  }

  void TearDown() override {
    for (pid_t pid : started_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (root_.empty()) return;
    auto destroyed = cgroupfs::destroy(root_);
    EXPECT_TRUE(destroyed.has_value()) << destroyed.error().what();
    EXPECT_FALSE(fs::exists(root_));
  }

  std::unique_ptr<CgroupsIsolator> create(CgroupsOptions options) {
    options.root = root_;
    auto created = CgroupsIsolator::create(options);
    EXPECT_TRUE(created.has_value()) << created.error().what();
    return created ? std::move(*created) : nullptr;
  }

  // Runs `argv` in `cgroup`, moved there before it execs (a pipe holds it
  // back), and returns its pid.
  pid_t start_in(const fs::path& cgroup, std::vector<const char*> argv) {
    argv.push_back(nullptr);
    int gate[2];
    EXPECT_EQ(::pipe2(gate, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      char go;
      if (::read(gate[0], &go, 1) != 1) ::_exit(126);
      ::execv(argv[0], const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    ::close(gate[0]);
    auto moved = cgroupfs::write_file(cgroup / "cgroup.procs", std::to_string(pid));
    EXPECT_TRUE(moved.has_value()) << moved.error().what();
    EXPECT_EQ(::write(gate[1], "x", 1), 1);
    ::close(gate[1]);
    started_.push_back(pid);
    return pid;
  }

  int exit_code(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    std::erase(started_, pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  fs::path mount_, root_;
  std::vector<pid_t> started_;
};

TEST_F(Cgroups2RootTest, MissingRequiredControllersFailTheStartNamingThem) {
  Names missing;
  for (const char* name : {"cpu", "memory", "pids"}) {
    if (!offers(mount_, name)) missing.emplace_back(name);
  }
  if (missing.empty()) GTEST_SKIP() << "this kernel offers cpu, memory and pids";
  auto created = CgroupsIsolator::create(CgroupsOptions{.root = root_, .required = {"cpu", "memory", "pids"}});
  ASSERT_FALSE(created.has_value());
  std::string joined;
  for (const auto& name : missing) joined += (joined.empty() ? "" : ", ") + name;
  const auto& message = created.error().message();
  EXPECT_TRUE(message.starts_with("cgroup root " + root_.string() + " lacks the required cgroup controllers " + joined +
                                  " (it offers: "))
      << message;
  EXPECT_TRUE(message.ends_with("; pass --allow_missing_cgroup_controllers to run without them")) << message;
  EXPECT_FALSE(fs::exists(root_)) << "a root that cannot serve is not left behind";
}

TEST_F(Cgroups2RootTest, AllowMissingRunsWithWhatIsThere) {
  auto isolator = create({.required = {"cpu", "memory", "pids", "hugetlb"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  for (const auto& name : isolator->enabled_controllers()) EXPECT_TRUE(offers(root_, name)) << name;
  for (const auto& name : isolator->missing_controllers()) EXPECT_FALSE(offers(mount_, name)) << name;
  EXPECT_EQ(isolator->enabled_controllers().size() + isolator->missing_controllers().size(), 4u);
}

TEST_F(Cgroups2RootTest, HugetlbLimitIsWrittenAndRestoredByTheKernel) {
  auto isolator = create({.required = {"hugetlb"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  if (isolator->enabled_controllers() != Names{"hugetlb"}) GTEST_SKIP() << "no hugetlb controller";
  auto info = isolator->prepare({.container_id = "c1", .limits = {.hugetlb = {{"2MB", 4 << 20}}}});
  if (!info && info.error().code() == ENOENT) GTEST_SKIP() << "no 2MB huge pages: " << info.error().what();
  ASSERT_TRUE(info.has_value()) << info.error().what();
  EXPECT_EQ(slurp(root_ / "c1" / "hugetlb.2MB.max"), "4194304\n");
  ASSERT_TRUE(isolator->update("c1", {}).has_value());
  EXPECT_EQ(slurp(root_ / "c1" / "hugetlb.2MB.max"), "max\n");
  ASSERT_TRUE(isolator->cleanup("c1").has_value());
}

TEST_F(Cgroups2RootTest, FailedPrepareLeavesNothing) {
  auto isolator = create({.required = {"hugetlb"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  if (isolator->enabled_controllers() != Names{"hugetlb"}) GTEST_SKIP() << "no hugetlb controller";
  // No machine has 3 GB pages: the kernel has no such file.
  auto info = isolator->prepare({.container_id = "c1", .limits = {.hugetlb = {{"3GB", 1}}}});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().path(), (root_ / "c1" / "hugetlb.3GB.max").string());
  EXPECT_EQ(info.error().message(), "container c1: hugetlb controller: open");
  EXPECT_FALSE(fs::exists(root_ / "c1"));
}

TEST_F(Cgroups2RootTest, InvalidLimitsLeaveNothing) {
  auto isolator = create({.required = {"cpu"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  if (isolator->enabled_controllers() != Names{"cpu"}) BERTH_SKIP_WITHOUT_FULL_CGROUP2("no cpu controller");
  auto info = isolator->prepare({.container_id = "c1", .limits = {.cpus = 2, .cpus_limit = 1}});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().message(), "container c1: cpu controller: cpus_limit: 1 is below the request cpus = 2");
  EXPECT_FALSE(fs::exists(root_ / "c1"));
}

TEST_F(Cgroups2RootTest, StatisticsOfABusyContainerGrowAndCleanupKillsIt) {
  auto isolator = create({.allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  ASSERT_TRUE(isolator->prepare({.container_id = "busy", .limits = {.cpus = 1, .mem_bytes = 64 << 20}}).has_value());
  pid_t pid = start_in(root_ / "busy", {"/bin/sh", "-c", "while :; do :; done"});
  auto first = isolator->statistics("busy");
  ASSERT_TRUE(first.has_value()) << first.error().what();
  std::this_thread::sleep_for(200ms);
  auto second = isolator->statistics("busy");
  ASSERT_TRUE(second.has_value()) << second.error().what();
  EXPECT_GT(second->cpu_usage_us, first->cpu_usage_us);
  EXPECT_GE(second->cpu_usage_us, second->cpu_user_us);
  EXPECT_EQ(second->cpu_pressure.has_value(), fs::exists(root_ / "busy" / "cpu.pressure"));
  EXPECT_EQ(second->memory_current.has_value(), fs::exists(root_ / "busy" / "memory.current"));
  auto limitation = isolator->limitation("busy");
  ASSERT_TRUE(limitation.has_value()) << limitation.error().what();
  EXPECT_FALSE(limitation->has_value());
  ASSERT_TRUE(isolator->cleanup("busy").has_value());
  EXPECT_EQ(exit_code(pid), 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(root_ / "busy"));
  EXPECT_FALSE(isolator->statistics("busy").has_value());
}

TEST_F(Cgroups2RootTest, UpdateOfAnUnknownContainerIsAnError) {
  auto isolator = create({.allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  auto updated = isolator->update("nope", {});
  ASSERT_FALSE(updated.has_value());
  EXPECT_EQ(updated.error().code(), ENOENT);
  EXPECT_EQ(updated.error().path(), (root_ / "nope").string());
}

TEST_F(Cgroups2RootTest, DeviceFilterKeepsTheContainerToItsDevices) {
  if (!cgroups2::device_filter_support()) GTEST_SKIP() << cgroups2::device_filter_support().error().what();
  auto isolator = create({.required = {"devices"}});
  ASSERT_NE(isolator, nullptr);
  EXPECT_EQ(isolator->enabled_controllers(), Names{"devices"});
  ASSERT_TRUE(isolator->prepare({.container_id = "c1"}).has_value());
  // /dev/null is a standard device; /dev/kmsg (c 1:11) is not.
  EXPECT_EQ(exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", "exec 3</dev/null"})), 0);
  EXPECT_NE(exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", "exec 3</dev/kmsg"})), 0);
  // A live update widens it.
  cgroups2::Limits kmsg{.devices = {{.type = 'c', .major = 1, .minor = 11, .access = "r"}}};
  ASSERT_TRUE(isolator->update("c1", kmsg).has_value());
  EXPECT_EQ(exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", "exec 3</dev/kmsg"})), 0);
  // A container's own rule can also take a standard device away.
  cgroups2::Limits no_null{.devices = {{.type = 'c', .major = 1, .minor = 3, .access = "rwm", .allow = false}}};
  ASSERT_TRUE(isolator->update("c1", no_null).has_value());
  EXPECT_NE(exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", "exec 3</dev/null"})), 0);
  EXPECT_EQ(exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", "exec 3</dev/zero"})), 0);
  ASSERT_TRUE(isolator->cleanup("c1").has_value());
}

// Where the kernel offers the controllers (the test VM): limits reach the
// kernel's files, and the limitation names the limit a container hit.

TEST_F(Cgroups2RootTest, CpuMemoryAndPidsLimitsReachTheKernelAndUpdate) {
  auto isolator = create({.required = {"cpu", "memory", "pids"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  if (!isolator->missing_controllers().empty()) BERTH_SKIP_WITHOUT_FULL_CGROUP2("needs cpu, memory and pids");
  cgroups2::Limits limits{.cpus = 0.5, .cpus_limit = 1, .mem_bytes = 32 << 20, .mem_limit = 64 << 20, .pids_max = 20};
  ASSERT_TRUE(isolator->prepare({.container_id = "c1", .limits = limits}).has_value());
  const auto cgroup = root_ / "c1";
  EXPECT_EQ(slurp(cgroup / "cpu.weight"), "50\n");
  EXPECT_EQ(slurp(cgroup / "cpu.max"), "100000 100000\n");
  EXPECT_EQ(slurp(cgroup / "memory.max"), "67108864\n");
  EXPECT_EQ(slurp(cgroup / "memory.low"), "33554432\n");
  EXPECT_EQ(slurp(cgroup / "memory.oom.group"), "1\n");
  EXPECT_EQ(slurp(cgroup / "pids.max"), "20\n");
  ASSERT_TRUE(isolator->update("c1", {.cpus = 2, .cpu_quota_from_request = false, .mem_bytes = 16 << 20}).has_value());
  EXPECT_EQ(slurp(cgroup / "cpu.weight"), "200\n");
  EXPECT_EQ(slurp(cgroup / "cpu.max"), "max 100000\n");
  EXPECT_EQ(slurp(cgroup / "memory.max"), "16777216\n");
  EXPECT_EQ(slurp(cgroup / "memory.low"), "0\n");
  EXPECT_EQ(slurp(cgroup / "pids.max"), "max\n");
  auto stats = isolator->statistics("c1");
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_TRUE(stats->cpu_periods.has_value());
  EXPECT_TRUE(stats->memory_current && stats->memory_anon && stats->memory_kernel && stats->memory_oom_kill);
  EXPECT_EQ(stats->pids_current, 0u);
}

TEST_F(Cgroups2RootTest, OomKillIsAMemoryLimitation) {
  auto isolator = create({.required = {"memory"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  if (!isolator->missing_controllers().empty()) BERTH_SKIP_WITHOUT_FULL_CGROUP2("needs memory");
  ASSERT_TRUE(isolator->prepare({.container_id = "c1", .limits = {.mem_bytes = 16 << 20, .swap_max_bytes = 0}})
                  .has_value());
  // tmpfs pages are charged to the writer and cannot be reclaimed without swap.
  const std::string file = "/dev/shm/berth-oom-" + std::to_string(::getpid());
  const std::string script = "exec dd if=/dev/zero of=" + file + " bs=1M count=64";
  int code = exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", script.c_str()}));
  fs::remove(file);
  EXPECT_EQ(code, 128 + SIGKILL);
  auto limitation = isolator->limitation("c1");
  ASSERT_TRUE(limitation.has_value()) << limitation.error().what();
  ASSERT_TRUE(limitation->has_value());
  EXPECT_EQ((*limitation)->kind, Limitation::Kind::memory);
  EXPECT_TRUE((*limitation)->message.starts_with(
      "Memory limit exceeded: the OOM killer ended the container at memory.max = 16777216 bytes"))
      << (*limitation)->message;
}

TEST_F(Cgroups2RootTest, RefusedForksAreAPidsLimitation) {
  auto isolator = create({.required = {"pids"}, .allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  if (!isolator->missing_controllers().empty()) BERTH_SKIP_WITHOUT_FULL_CGROUP2("needs pids");
  ASSERT_TRUE(isolator->prepare({.container_id = "c1", .limits = {.pids_max = 2}}).has_value());
  exit_code(start_in(root_ / "c1", {"/bin/sh", "-c", "sleep 1 & sleep 1 & sleep 1 & wait"}));
  auto limitation = isolator->limitation("c1");
  ASSERT_TRUE(limitation.has_value()) << limitation.error().what();
  ASSERT_TRUE(limitation->has_value());
  EXPECT_EQ((*limitation)->kind, Limitation::Kind::pids);
  EXPECT_TRUE((*limitation)->message.starts_with("pids limit reached: ")) << (*limitation)->message;
  EXPECT_TRUE((*limitation)->message.ends_with(" refused at pids.max = 2")) << (*limitation)->message;
}

class SamplerRootTest : public Cgroups2RootTest,
                        public ::testing::WithParamInterface<cgroups2::SamplerBackend> {};

TEST_P(SamplerRootTest, KeptOpenFilesShowNewValuesAndAGoneCgroupFailsAlone) {
  auto isolator = create({.allow_missing = true});
  ASSERT_NE(isolator, nullptr);
  auto created = cgroups2::StatsSampler::create({.enabled = isolator->enabled_controllers(), .backend = GetParam()});
  if (!created && GetParam() == cgroups2::SamplerBackend::io_uring) GTEST_SKIP() << created.error().what();
  ASSERT_TRUE(created.has_value()) << created.error().what();
  auto& sampler = **created;
  for (const char* id : {"busy", "idle"}) {
    ASSERT_TRUE(isolator->prepare({.container_id = id}).has_value());
    ASSERT_TRUE(sampler.add(id, isolator->cgroup_path(id)).has_value());
  }
  start_in(root_ / "busy", {"/bin/sh", "-c", "while :; do :; done"});
  std::this_thread::sleep_for(50ms);
  auto first = sampler.sample()[0];
  ASSERT_TRUE(first.status.has_value()) << first.status.error().what();
  std::this_thread::sleep_for(200ms);
  auto second = sampler.sample()[0];
  ASSERT_TRUE(second.status.has_value()) << second.status.error().what();
  // The same open cpu.stat, read again from offset 0: cgroupfs regenerated it.
  EXPECT_GT(second.statistics.cpu_usage_us, first.statistics.cpu_usage_us);
  EXPECT_EQ(second.container_id, "busy");

  ASSERT_TRUE(isolator->cleanup("busy").has_value());
  auto after = sampler.sample();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_FALSE(after[0].status.has_value()) << "the removed cgroup's files read ENODEV";
  EXPECT_EQ(after[0].status.error().code(), ENODEV);
  EXPECT_TRUE(after[1].status.has_value()) << after[1].status.error().what();
}

INSTANTIATE_TEST_SUITE_P(Backends, SamplerRootTest,
                         ::testing::Values(cgroups2::SamplerBackend::io_uring, cgroups2::SamplerBackend::pread),
                         [](const auto& info) { return std::string(cgroups2::to_string(info.param)); });

}  // namespace
}  // namespace berth::isolators
