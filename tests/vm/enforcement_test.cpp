// The enforcement suite: runs inside the test VM (enforcement_test starts it
// through run-in-vm), where the kernel offers a full cgroup v2. Containers are
// started by the agent's own Containerizer (isolators, launcher, exit watcher)
// with the test binary itself as their workload (vm_workloads.hpp), and one
// test goes through real berth-master, berth-agent and berth processes. Each
// test checks that the kernel enforced the limit, that Berth reported it the
// way the agent reports it to frameworks, and that no cgroup is left.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "berth/agent/containerizer.hpp"
#include "berth/agent/paths.hpp"
#include "berth/agent/task_outcome.hpp"
#include "berth/isolators/cgroupfs.hpp"
#include "support/cluster.hpp"
#include "support/root.hpp"
#include "vm/vm_workloads.hpp"

namespace berth::vm {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace v1 = mesos::v1;
using namespace std::chrono_literals;
using agent::ContainerExit;
using isolators::Limitation;
using isolators::cgroups2::Limits;
using isolators::cgroups2::Statistics;
using berth::testing::read_file;
using berth::testing::wait_until;

constexpr std::uint64_t kMiB = 1 << 20;
const fs::path kCgroup2 = "/sys/fs/cgroup";

fs::path self_exe() { return fs::read_symlink("/proc/self/exe"); }

std::vector<std::string> workload(std::vector<std::string> args) {
  args.insert(args.begin(), self_exe().string());
  return args;
}

// "MAJ:MIN" of a block device, from sysfs.
std::string block_device_number(const std::string& name) {
  auto text = read_file("/sys/block/" + name + "/dev");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

double number_after(const std::string& text, const std::string& word) {
  std::smatch match;
  std::regex pattern(word + " ([0-9.]+)");
  if (!std::regex_search(text, match, pattern)) return -1;
  return std::stod(match[1].str());
}

class EnforcementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    // This suite exists to run where the kernel enforces everything: never skip.
    auto controllers = read_file(kCgroup2 / "cgroup.controllers");
    for (const char* needed : {"cpu", "memory", "pids", "io"}) {
      ASSERT_NE(controllers.find(needed), std::string::npos)
          << "no " << needed << " controller in " << kCgroup2 << ": run this suite in the test VM (tests/vm)";
    }
    static std::atomic<int> counter{0};
    auto unique = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    root_ = kCgroup2 / ("berth-vm-" + unique);
    dir_ = fs::temp_directory_path() / ("berth-vm-" + unique);
    fs::create_directories(dir_);
    auto created = agent::Containerizer::create(
        io_.get_executor(),
        {.root = root_, .required = {"cpu", "memory", "pids", "io", "cpuset", "hugetlb", "devices"}});
    ASSERT_TRUE(created.has_value()) << created.error().what();
    containerizer_ = std::move(*created);
    EXPECT_TRUE(containerizer_->missing_cgroup_controllers().empty());
  }

  void TearDown() override {
    if (containerizer_) {
      for (const auto& id : launched_) {
        if (!containerizer_->running(id)) continue;
        (void)containerizer_->kill(id);
        wait_exit(id);
      }
    }
    containerizer_.reset();
    if (root_.empty() || !fs::exists(root_)) return;
    // Every container's cgroup went with its container.
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(root_)) {
      if (entry.is_directory()) left.push_back(entry.path().filename().string());
    }
    EXPECT_TRUE(left.empty()) << left.size() << " cgroups left under " << root_ << ", e.g. " << left.front();
    auto destroyed = isolators::cgroupfs::destroy(root_);
    EXPECT_TRUE(destroyed.has_value()) << destroyed.error().what();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path container_dir(const std::string& id) const { return dir_ / id; }

  void launch(const std::string& id, std::vector<std::string> argv, const Limits& limits) {
    agent::ContainerSpec spec{.container_id = id, .container_dir = container_dir(id), .argv = std::move(argv),
                              .env = {"PATH=/bin:/usr/bin"}, .limits = limits};
    fs::create_directories(agent::paths::sandbox_dir(spec.container_dir));
    fs::create_directories(agent::paths::runtime_dir(spec.container_dir));
    auto process = containerizer_->launch(spec);
    ASSERT_TRUE(process.has_value()) << id << ": " << process.error().what();
    launched_.push_back(id);
  }

  std::string output(const std::string& id) const {
    return read_file(agent::paths::sandbox_dir(container_dir(id)) / "stdout");
  }

  bool wait_for_output(const std::string& id, const std::string& text, std::chrono::milliseconds timeout = 60s) {
    return wait_until([&] { return output(id).find(text) != std::string::npos; }, timeout);
  }

  // The container's end as the agent learns it (or nullopt after `timeout`).
  std::optional<Result<ContainerExit>> wait_exit(const std::string& id, std::chrono::milliseconds timeout = 60s) {
    auto result = std::make_shared<std::optional<Result<ContainerExit>>>();
    asio::co_spawn(io_, [this, id, result]() -> asio::awaitable<void> {
      *result = co_await containerizer_->wait(id);
    }, asio::detached);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    io_.restart();
    while (!result->has_value() && std::chrono::steady_clock::now() < deadline) io_.run_for(20ms);
    return *result;
  }

  std::optional<Statistics> statistics(const std::string& id) {
    for (const auto& sample : containerizer_->sample()) {
      if (sample.container_id == id && sample.status) return sample.statistics;
    }
    return std::nullopt;
  }

  std::string cgroup_file(const std::string& id, const std::string& file) const {
    return read_file(fs::path(containerizer_->cgroup(id)) / file);
  }

  asio::io_context io_;
  fs::path root_, dir_;
  std::unique_ptr<agent::Containerizer> containerizer_;
  std::vector<std::string> launched_;
};

TEST_F(EnforcementTest, OverItsMemoryLimitATaskIsOomKilledAndReportedAndItsNeighbourSurvives) {
  Limits neighbour_limits{.mem_bytes = 64 * kMiB, .swap_max_bytes = 0};
  launch("neighbour", workload({"--allocate", "16"}), neighbour_limits);
  ASSERT_TRUE(wait_for_output("neighbour", "allocated 16")) << output("neighbour");

  Limits hog_limits{.mem_bytes = 32 * kMiB, .swap_max_bytes = 0};
  launch("hog", workload({"--allocate", "256"}), hog_limits);
  auto exit = wait_exit("hog");
  ASSERT_TRUE(exit.has_value()) << "the hog was not stopped: " << output("hog");
  ASSERT_TRUE(exit->has_value()) << exit->error().what();
  EXPECT_TRUE((*exit)->status.signaled);
  EXPECT_EQ((*exit)->status.code, SIGKILL);
  EXPECT_EQ(output("hog").find("allocated"), std::string::npos) << "256 MiB fit under 32 MiB";
  ASSERT_TRUE((*exit)->limitation.has_value());
  EXPECT_EQ((*exit)->limitation->kind, Limitation::Kind::memory);

  // What the framework is told.
  auto status = agent::terminal_status({.exit = **exit, .kill_requested = false, .limits = hog_limits});
  EXPECT_EQ(status.state, v1::TASK_FAILED);
  ASSERT_TRUE(status.reason.has_value());
  EXPECT_EQ(*status.reason, v1::TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY);
  EXPECT_NE(status.message.find("memory.max = 33554432 bytes"), std::string::npos) << status.message;
  EXPECT_EQ(status.exit_code, 128 + SIGKILL);
  ASSERT_TRUE(status.limitation.has_value());
  ASSERT_EQ(status.limitation->resources_size(), 1);
  EXPECT_EQ(status.limitation->resources(0).name(), "mem");
  EXPECT_DOUBLE_EQ(status.limitation->resources(0).scalar().value(), 32);

  // The neighbour kept running, with its memory.
  EXPECT_TRUE(containerizer_->running("neighbour"));
  auto stats = statistics("neighbour");
  ASSERT_TRUE(stats.has_value());
  ASSERT_TRUE(stats->memory_current.has_value());
  EXPECT_GE(*stats->memory_current, 16 * kMiB);
  EXPECT_EQ(stats->memory_oom_kill.value_or(1), 0u);
  ASSERT_TRUE(containerizer_->kill("neighbour").has_value());
  auto neighbour = wait_exit("neighbour");
  ASSERT_TRUE(neighbour && neighbour->has_value());
  EXPECT_FALSE((*neighbour)->limitation.has_value()) << (*neighbour)->limitation->message;
}

TEST_F(EnforcementTest, ForkBombStopsAtPidsMax) {
  launch("bomb", workload({"--fork-bomb"}), {.pids_max = 16});
  // The init (pid 1 of the container) and the bomb's processes: 16 in all.
  std::optional<Statistics> stats;
  ASSERT_TRUE(wait_until([&] {
    stats = statistics("bomb");
    return stats && stats->pids_current == 16u && output("bomb").find("fork: EAGAIN") != std::string::npos;
  }, 60s)) << "pids.current " << (stats ? stats->pids_current.value_or(0) : 0) << ", output: " << output("bomb");
  std::this_thread::sleep_for(500ms);
  stats = statistics("bomb");
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->pids_current, 16u) << "the count stays at the limit";
  EXPECT_GT(stats->pids_max_events.value_or(0), 0u);
  EXPECT_EQ(cgroup_file("bomb", "pids.max"), "16\n");

  ASSERT_TRUE(containerizer_->kill("bomb").has_value());
  auto exit = wait_exit("bomb");
  ASSERT_TRUE(exit && exit->has_value());
  ASSERT_TRUE((*exit)->limitation.has_value());
  EXPECT_EQ((*exit)->limitation->kind, Limitation::Kind::pids);
  EXPECT_NE((*exit)->limitation->message.find("refused at pids.max = 16"), std::string::npos)
      << (*exit)->limitation->message;
  // A task that fails after forks were refused is told why.
  ContainerExit failed{.status = {.signaled = false, .code = 1}, .limitation = (*exit)->limitation};
  auto status = agent::terminal_status({.exit = failed, .kill_requested = false, .limits = {.pids_max = 16}});
  EXPECT_EQ(status.state, v1::TASK_FAILED);
  EXPECT_EQ(status.reason, v1::TaskStatus::REASON_CONTAINER_LIMITATION);
}

// CPU time the container used per second of wall time, over `interval`,
// with the throttled periods counted meanwhile.
struct CpuRate {
  double cpus = 0;
  std::uint64_t throttled_periods = 0;
  double throttled_secs = 0;
};

TEST_F(EnforcementTest, BusyLoopIsHeldToCpuMaxAndALiveUpdateRaisesIt) {
  auto rate = [&](const std::string& id, std::chrono::milliseconds interval) -> std::optional<CpuRate> {
    auto before = statistics(id);
    auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(interval);
    auto after = statistics(id);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!before || !after) return std::nullopt;
    return CpuRate{static_cast<double>(after->cpu_usage_us - before->cpu_usage_us) / 1e6 / wall,
                   after->cpu_throttled_periods.value_or(0) - before->cpu_throttled_periods.value_or(0),
                   static_cast<double>(after->cpu_throttled_us.value_or(0) - before->cpu_throttled_us.value_or(0)) / 1e6};
  };

  Limits limits{.cpus = 0.25, .cpus_limit = 0.25, .cpu_period_us = 100'000};
  launch("busy", workload({"--busy-loop", "30"}), limits);
  ASSERT_TRUE(wait_for_output("busy", "busy")) << output("busy");
  EXPECT_EQ(cgroup_file("busy", "cpu.max"), "25000 100000\n");
  std::this_thread::sleep_for(300ms);
  auto held = rate("busy", 3s);
  ASSERT_TRUE(held.has_value());
  EXPECT_NEAR(held->cpus, 0.25, 0.25 * 0.2) << "cpu.max 25000/100000";
  EXPECT_GE(held->throttled_periods, 20u) << "about one throttled period in each 100 ms";
  EXPECT_GT(held->throttled_secs, 1.0);

  limits.cpus_limit = 0.5;
  ASSERT_TRUE(containerizer_->update("busy", limits).has_value());
  EXPECT_EQ(cgroup_file("busy", "cpu.max"), "50000 100000\n");
  std::this_thread::sleep_for(300ms);
  auto raised = rate("busy", 3s);
  ASSERT_TRUE(raised.has_value());
  EXPECT_NEAR(raised->cpus, 0.5, 0.5 * 0.2) << "cpu.max 50000/100000 after the update";
}

TEST_F(EnforcementTest, LoweringTheMemoryLimitOfARunningTaskTakesEffect) {
  Limits limits{.mem_bytes = 64 * kMiB, .swap_max_bytes = 0};
  launch("shrink", workload({"--allocate", "24"}), limits);
  ASSERT_TRUE(wait_for_output("shrink", "allocated 24")) << output("shrink");
  EXPECT_EQ(cgroup_file("shrink", "memory.max"), "67108864\n");
  limits.mem_bytes = 8 * kMiB;
  // The kernel cannot reclaim anonymous memory without swap: the write of
  // memory.max itself ends in the OOM killer (or fails with EBUSY, which the
  // update reports).
  (void)containerizer_->update("shrink", limits);
  auto exit = wait_exit("shrink", 30s);
  ASSERT_TRUE(exit.has_value()) << "still running with 24 MiB under memory.max = 8 MiB";
  ASSERT_TRUE(exit->has_value()) << exit->error().what();
  EXPECT_EQ((*exit)->status.code, SIGKILL);
  ASSERT_TRUE((*exit)->limitation.has_value());
  EXPECT_EQ((*exit)->limitation->kind, Limitation::Kind::memory);
  EXPECT_NE((*exit)->limitation->message.find("memory.max = 8388608 bytes"), std::string::npos)
      << (*exit)->limitation->message;
}

TEST_F(EnforcementTest, DiskWritesAreHeldToIoMax) {
  ASSERT_TRUE(fs::exists("/dev/vda")) << "run-in-vm --disk gives the guest /dev/vda";
  auto vda = block_device_number("vda");
  ASSERT_FALSE(vda.empty());
  auto colon = vda.find(':');
  isolators::cgroups2::DeviceRule disk{.type = 'b', .major = std::stoll(vda.substr(0, colon)),
                                       .minor = std::stoll(vda.substr(colon + 1)), .access = "rw"};
  constexpr std::uint64_t kLimit = 4 * kMiB;

  // The same write without a limit, so that the limit is what slows it down.
  launch("free", workload({"--write-disk", "/dev/vda", "16"}), {.devices = {disk}});
  auto free = wait_exit("free");
  ASSERT_TRUE(free && free->has_value());
  ASSERT_EQ((*free)->status.code, 0) << output("free");
  double free_secs = number_after(output("free"), "MiB in");
  ASSERT_GT(free_secs, 0) << output("free");
  ASSERT_LT(free_secs, 16.0 / 8) << "the disk writes under 8 MiB/s unthrottled: the limit below would prove nothing";

  Limits limits{.io = {{vda, {.write_bps = kLimit}}}, .devices = {disk}};
  launch("held", workload({"--write-disk", "/dev/vda", "16"}), limits);
  EXPECT_EQ(cgroup_file("held", "io.max"), vda + " rbps=max wbps=4194304 riops=max wiops=max\n");
  ASSERT_TRUE(wait_for_output("held", "writing")) << output("held");
  std::optional<Statistics> stats;
  EXPECT_TRUE(wait_until([&] {
    stats = statistics("held");
    return stats && stats->io.contains(vda) && stats->io.at(vda).write_bytes > 0;
  }, 20s)) << "no io.stat entry for " << vda;
  auto held = wait_exit("held");
  ASSERT_TRUE(held && held->has_value());
  ASSERT_EQ((*held)->status.code, 0) << output("held");
  double held_secs = number_after(output("held"), "MiB in");
  ASSERT_GT(held_secs, 0) << output("held");
  double rate = 16.0 / held_secs;  // MiB/s
  EXPECT_NEAR(rate, 4.0, 4.0 * 0.2) << "wrote 16 MiB in " << held_secs << " s under wbps=4 MiB/s";
}

TEST_F(EnforcementTest, DevicesOutsideTheFilterAreEperm) {
  launch("devices", workload({"--open-devices", "/dev/null", "/dev/vda", "/dev/kmsg", "/dev/urandom"}), {});
  auto exit = wait_exit("devices");
  ASSERT_TRUE(exit && exit->has_value());
  EXPECT_EQ((*exit)->status.code, 0);
  auto out = output("devices");
  EXPECT_NE(out.find("/dev/null: ok"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/urandom: ok"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/vda: EPERM"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/kmsg: EPERM"), std::string::npos) << out;
}

// Through the real daemons: the framework (the berth CLI) hears of the OOM
// kill as Mesos frameworks expect.
TEST(AgentInTheVm, OomKilledTaskIsReportedToTheFrameworkAsAMemoryLimitation) {
  BERTH_REQUIRE_ROOT();
  berth::testing::Cluster cluster;
  cluster.start_master();
  cluster.start_agent();
  ASSERT_TRUE(cluster.wait_for_agent(60s)) << cluster.agent_log();
  auto state = cluster.agent_state();
  ASSERT_TRUE(state.is_object());
  EXPECT_TRUE(state.at("cgroup_controllers_missing").as_array().empty()) << boost::json::serialize(state);

  auto result = cluster.run({"--mem=32", "--", self_exe().string(), "--allocate", "256"}, 120s);
  EXPECT_EQ(result.exit_code, 137) << result.err;
  EXPECT_NE(result.err.find("FAILED (exit code 137, REASON_CONTAINER_LIMITATION_MEMORY)"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("Memory limit exceeded"), std::string::npos) << result.err;
  cluster.check_no_leaks();
}

}  // namespace
}  // namespace berth::vm

int main(int argc, char** argv) {
  if (auto code = berth::vm::run_workload(argc, argv)) return *code;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
