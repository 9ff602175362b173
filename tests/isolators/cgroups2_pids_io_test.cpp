// The pids and io controllers against a fixture cgroup: pids.max, io.max and
// io.weight lines, live updates, errors naming the field, and the parsing of
// pids.current, pids.events, io.stat and io.pressure.

#include <gtest/gtest.h>

#include <limits>

#include "berth/isolators/cgroups2/io.hpp"
#include "berth/isolators/cgroups2/pids.hpp"
#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2 {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_text;

constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

class PidsIoTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::full_cgroup(cgroup_.path()); }
  std::string file(const char* name) { return slurp(cgroup_ / name); }
  std::vector<CgroupFileWrite> plan_io(const Limits& limits, Unset unset) {
    auto writes = io_.plan(limits, unset, cgroup_.path());
    EXPECT_TRUE(writes.has_value()) << writes.error().what();
    return writes.value_or(std::vector<CgroupFileWrite>{});
  }
  Statistics statistics(const Controller& controller) {
    Statistics stats;
    auto read = read_statistics(controller, cgroup_.path(), StatSelection::all, stats);
    EXPECT_TRUE(read.has_value()) << read.error().what();
    return stats;
  }

  TempDir cgroup_;
  PidsController pids_;
  IoController io_;
};

TEST_F(PidsIoTest, PidsMax) {
  ASSERT_TRUE(pids_.apply(Limits{.pids_max = 100}, cgroup_.path()).has_value());
  EXPECT_EQ(file("pids.max"), "100");
  ASSERT_TRUE(pids_.update(Limits{.pids_max = kUnlimited}, cgroup_.path()).has_value());
  EXPECT_EQ(file("pids.max"), "max");
  ASSERT_TRUE(pids_.update(Limits{.pids_max = 7}, cgroup_.path()).has_value());
  ASSERT_TRUE(pids_.update(Limits{}, cgroup_.path()).has_value());
  EXPECT_EQ(file("pids.max"), "max") << "restored";
}

TEST_F(PidsIoTest, NoPidsLimitWritesNothing) {
  std::filesystem::remove(cgroup_ / "pids.max");
  EXPECT_TRUE(pids_.apply(Limits{}, cgroup_.path()).has_value());
}

TEST_F(PidsIoTest, PidsStatistics) {
  write_text(cgroup_ / "pids.current", "3\n");
  write_text(cgroup_ / "pids.events", testing::kPidsEventsAfterRefusal);
  auto stats = statistics(pids_);
  EXPECT_EQ(stats.pids_current, 3u);
  EXPECT_EQ(stats.pids_max_events, 1u);
}

TEST_F(PidsIoTest, IoMaxWritesOnlyTheKeysSet) {
  Limits limits{.io = {{"254:0", {.read_bps = 1 << 20, .write_iops = 120}}, {"8:16", {.write_bps = kUnlimited}}}};
  EXPECT_EQ(plan_io(limits, Unset::keep), (std::vector<CgroupFileWrite>{{"io.max", "254:0 rbps=1048576 wiops=120"},
                                                                         {"io.max", "8:16 wbps=max"}}));
}

TEST_F(PidsIoTest, IoWeights) {
  Limits limits{.io = {{"8:0", {.weight = 50}}}, .io_weight = 200};
  EXPECT_EQ(plan_io(limits, Unset::keep),
            (std::vector<CgroupFileWrite>{{"io.weight", "default 200"}, {"io.weight", "8:0 50"}}));
  ASSERT_TRUE(io_.apply(Limits{.io_weight = 300}, cgroup_.path()).has_value());
  EXPECT_EQ(file("io.weight"), "default 300");
}

TEST_F(PidsIoTest, NoIoLimitsWriteNothing) { EXPECT_TRUE(plan_io(Limits{}, Unset::keep).empty()); }

TEST_F(PidsIoTest, UpdateResetsDevicesNoLongerLimited) {
  write_text(cgroup_ / "io.max", std::string(testing::kIoMax) + "8:16 rbps=max wbps=4096 riops=max wiops=max\n");
  write_text(cgroup_ / "io.weight", "default 100\n8:16 50\n");
  Limits limits{.io = {{"254:0", {.read_bps = 2048}}}};
  EXPECT_EQ(plan_io(limits, Unset::restore),
            (std::vector<CgroupFileWrite>{{"io.weight", "default 100"},
                                          {"io.max", "254:0 rbps=2048 wbps=max riops=max wiops=max"},
                                          {"io.max", "8:16 rbps=max wbps=max riops=max wiops=max"},
                                          {"io.weight", "8:16 default"}}));
}

TEST_F(PidsIoTest, UpdateLeavesPerDeviceWeightsAloneWhereNoneWasSet) {
  // A per-device io.weight write fails (EOPNOTSUPP) on a device without
  // iocost, even "MAJ:MIN default": only devices io.weight lists are reset.
  Limits limits{.io = {{"254:0", {.read_bps = 2048}}}};
  for (const auto& write : plan_io(limits, Unset::restore)) {
    EXPECT_FALSE(write.file == "io.weight" && write.value.starts_with("254:0")) << write.value;
  }
}

TEST_F(PidsIoTest, IoErrorsNameTheField) {
  auto weight = io_.apply(Limits{.io_weight = 0}, cgroup_.path());
  ASSERT_FALSE(weight.has_value());
  EXPECT_EQ(weight.error().message(), "io_weight: 0 is outside the kernel's 1-10000");
  auto device = io_.apply(Limits{.io = {{"sda", {.read_bps = 1}}}}, cgroup_.path());
  ASSERT_FALSE(device.has_value());
  EXPECT_EQ(device.error().message(), "io[\"sda\"]: not a block device number \"MAJ:MIN\"");
  auto device_weight = io_.apply(Limits{.io = {{"8:0", {.weight = 20000}}}}, cgroup_.path());
  ASSERT_FALSE(device_weight.has_value());
  EXPECT_EQ(device_weight.error().message(), "io[\"8:0\"].weight: 20000 is outside the kernel's 1-10000");
}

TEST_F(PidsIoTest, IoStatistics) {
  auto stats = statistics(io_);
  ASSERT_EQ(stats.io.size(), 1u);
  const auto& vda = stats.io.at("254:0");
  EXPECT_EQ(vda.read_bytes, 1048576u);
  EXPECT_EQ(vda.write_bytes, 12288u);
  EXPECT_EQ(vda.read_ios, 16u);
  EXPECT_EQ(vda.write_ios, 3u);
  EXPECT_EQ(vda.discard_bytes, 0u);
  EXPECT_EQ(vda.discard_ios, 0u);
  ASSERT_TRUE(stats.io_pressure.has_value());
  EXPECT_EQ(stats.io_pressure->some_total_us, 0u);
}

TEST_F(PidsIoTest, IoStatisticsReuseAStatisticsAndDropDevicesThatWentAway) {
  Statistics stats;
  const std::string two_devices = std::string(testing::kIoStat) + "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n";
  write_text(cgroup_ / "io.stat", two_devices);
  ASSERT_TRUE(read_statistics(io_, cgroup_.path(), StatSelection::all, stats).has_value());
  ASSERT_EQ(stats.io.size(), 2u);
  EXPECT_EQ(stats.io.at("8:0").discard_ios, 6u);
  write_text(cgroup_ / "io.stat", "8:0 rbytes=10 wbytes=20 rios=30 wios=40 dbytes=50 dios=60\n");
  ASSERT_TRUE(read_statistics(io_, cgroup_.path(), StatSelection::all, stats).has_value());
  ASSERT_EQ(stats.io.size(), 1u);
  EXPECT_EQ(stats.io.at("8:0").read_bytes, 10u);
}

TEST_F(PidsIoTest, EmptyIoStatIsNoDevices) {
  write_text(cgroup_ / "io.stat", "");
  EXPECT_TRUE(statistics(io_).io.empty());
}

TEST_F(PidsIoTest, CorruptIoStatNamesTheFile) {
  write_text(cgroup_ / "io.stat", "254:0 rbytes=x\n");
  Statistics stats;
  auto read = read_statistics(io_, cgroup_.path(), StatSelection::all, stats);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().path(), (cgroup_ / "io.stat").string());
}

}  // namespace
}  // namespace berth::isolators::cgroups2
