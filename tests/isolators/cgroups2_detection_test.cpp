// Which controllers a root offers against which are required (the error an
// operator sees, allow_missing), a container's whole Statistics, and the
// limitation read when a container ends, against fixture cgroups.

#include <gtest/gtest.h>

#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/cgroups2/controllers.hpp"
#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2 {
namespace {

using testing::TempDir;
using testing::write_text;
using Names = std::vector<std::string>;

const Names kVmOffers = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};
const Names kHybridOffers = {"hugetlb"};
const Result<void> kFilterLoads = {};
const Result<void> kNoFilter = fail(Error("BPF_PROG_LOAD device filter", EPERM));

TEST(ControllerTableTest, OrderAndNames) {
  Names names;
  for (const auto* controller : all_controllers()) names.emplace_back(controller->name());
  EXPECT_EQ(names, (Names{"cpuset", "cpu", "memory", "pids", "io", "hugetlb", "devices"}));
  EXPECT_EQ(kernel_controller_names(), (Names{"cpuset", "cpu", "memory", "pids", "io", "hugetlb"}));
  EXPECT_EQ(find_controller("memory")->name(), "memory");
  EXPECT_EQ(find_controller("blkio"), nullptr);
}

TEST(DetectionTest, EverythingThereIsEnabledInTableOrder) {
  auto detection = detect_controllers(kVmOffers, {"devices", "pids", "memory", "cpu"}, kFilterLoads).value();
  EXPECT_EQ(detection.enabled, (Names{"cpu", "memory", "pids", "devices"}));
  EXPECT_TRUE(detection.missing.empty());
  EXPECT_EQ(detection.available.back(), "devices");
}

TEST(DetectionTest, OnlyRequiredControllersAreUsed) {
  auto detection = detect_controllers(kVmOffers, {"memory"}, kFilterLoads).value();
  EXPECT_EQ(detection.enabled, Names{"memory"});
}

TEST(DetectionTest, MissingControllersAndWhatTheRootOffers) {
  auto detection = detect_controllers(kHybridOffers, {"cpu", "memory", "hugetlb"}, kFilterLoads).value();
  EXPECT_EQ(detection.enabled, Names{"hugetlb"});
  EXPECT_EQ(detection.missing, (Names{"cpu", "memory"}));
  EXPECT_EQ(missing_controllers_message("/sys/fs/cgroup/unified/berth", detection),
            "cgroup root /sys/fs/cgroup/unified/berth lacks the required cgroup controllers cpu, memory (it offers: "
            "hugetlb, devices); pass --allow_missing_cgroup_controllers to run without them");
}

TEST(DetectionTest, DevicesAreMissingWhereTheFilterCannotLoadAndTheMessageSaysWhy) {
  auto detection = detect_controllers(kVmOffers, {"devices"}, kNoFilter).value();
  EXPECT_TRUE(detection.enabled.empty());
  EXPECT_EQ(detection.missing, Names{"devices"});
  auto message = missing_controllers_message("/sys/fs/cgroup/berth", detection);
  EXPECT_NE(message.find("devices: the eBPF device filter cannot be loaded here: BPF_PROG_LOAD device filter: "
                         "Operation not permitted"),
            std::string::npos)
      << message;
  EXPECT_TRUE(message.ends_with("pass --allow_missing_cgroup_controllers to run without them")) << message;
}

TEST(DetectionTest, UnknownControllerIsAnError) {
  auto detection = detect_controllers(kVmOffers, {"cpu", "blkio"}, kFilterLoads);
  ASSERT_FALSE(detection.has_value());
  EXPECT_EQ(detection.error().message(),
            "unknown cgroup controller \"blkio\" (known: cpuset, cpu, memory, pids, io, hugetlb, devices)");
}

TEST(CgroupStatisticsTest, EveryEnabledControllersFiles) {
  TempDir cgroup;
  testing::full_cgroup(cgroup.path());
  auto stats = read_cgroup_statistics(cgroup.path(), {"cpu", "memory", "pids", "io"}).value();
  EXPECT_EQ(stats.cpu_usage_us, 71883u);
  EXPECT_EQ(stats.cpu_periods, 0u);
  EXPECT_EQ(stats.memory_current, 4567040u);
  EXPECT_EQ(stats.pids_current, 0u);
  EXPECT_EQ(stats.io.size(), 1u);
  EXPECT_TRUE(stats.cpu_pressure && stats.memory_pressure && stats.io_pressure);
}

TEST(CgroupStatisticsTest, CoreFilesOnlyWhereNoControllerIsEnabled) {
  TempDir cgroup;
  testing::core_cgroup(cgroup.path());
  auto stats = read_cgroup_statistics(cgroup.path(), {}).value();
  EXPECT_EQ(stats.cpu_usage_us, 1520u);
  EXPECT_FALSE(stats.cpu_periods.has_value());
  EXPECT_FALSE(stats.memory_current.has_value());
  EXPECT_FALSE(stats.pids_current.has_value());
  EXPECT_TRUE(stats.io.empty());
  EXPECT_TRUE(stats.cpu_pressure && stats.memory_pressure && stats.io_pressure);
}

class LimitationTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::full_cgroup(cgroup_.path()); }
  std::optional<Limitation> limitation(const Names& enabled = {"memory", "pids"}) {
    auto read = read_limitation(cgroup_.path(), enabled);
    EXPECT_TRUE(read.has_value()) << read.error().what();
    return read.value_or(std::nullopt);
  }
  TempDir cgroup_;
};

TEST_F(LimitationTest, NoneForAQuietContainer) { EXPECT_FALSE(limitation().has_value()); }

TEST_F(LimitationTest, OomKillNamesTheLimitAndThePeak) {
  write_text(cgroup_ / "memory.events", testing::kMemoryEventsAfterOom);
  write_text(cgroup_ / "memory.max", "33554432\n");
  write_text(cgroup_ / "memory.peak", "33554432\n");
  auto found = limitation();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->kind, Limitation::Kind::memory);
  EXPECT_EQ(found->message,
            "Memory limit exceeded: the OOM killer ended the container at memory.max = 33554432 bytes (peak 33554432 "
            "bytes)");
}

TEST_F(LimitationTest, OomKillWithoutMemoryPeakBefore519) {
  write_text(cgroup_ / "memory.events", testing::kMemoryEventsAfterOom);
  write_text(cgroup_ / "memory.max", "8388608\n");
  std::filesystem::remove(cgroup_ / "memory.peak");
  EXPECT_EQ(limitation()->message,
            "Memory limit exceeded: the OOM killer ended the container at memory.max = 8388608 bytes");
}

TEST_F(LimitationTest, RefusedForksNameThePidsLimit) {
  write_text(cgroup_ / "pids.events", "max 3\n");
  write_text(cgroup_ / "pids.max", "10\n");
  auto found = limitation();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->kind, Limitation::Kind::pids);
  EXPECT_EQ(found->message, "pids limit reached: 3 forks refused at pids.max = 10");
}

TEST_F(LimitationTest, OomKillComesFirst) {
  write_text(cgroup_ / "memory.events", testing::kMemoryEventsAfterOom);
  write_text(cgroup_ / "pids.events", testing::kPidsEventsAfterRefusal);
  EXPECT_EQ(limitation()->kind, Limitation::Kind::memory);
}

TEST_F(LimitationTest, ControllersNotEnabledAreNotRead) {
  write_text(cgroup_ / "memory.events", testing::kMemoryEventsAfterOom);
  std::filesystem::remove(cgroup_ / "pids.events");
  EXPECT_FALSE(limitation({}).has_value());
  auto read = read_limitation(cgroup_.path(), {"pids"});
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().path(), (cgroup_ / "pids.events").string());
}

}  // namespace
}  // namespace berth::isolators::cgroups2
