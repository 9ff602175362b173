// The cpu controller against a fixture cgroup: cpu.weight and cpu.max with
// Mesos semantics (request, limit, infinite limit, no limit), live updates,
// validation errors naming the field, and cpu.stat / cpu.pressure parsing.

#include "berth/isolators/cgroups2/cpu.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2 {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_text;

class CpuControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::full_cgroup(cgroup_.path()); }
  Result<void> apply(const Limits& limits) { return cpu_.apply(limits, cgroup_.path()); }
  std::string file(const char* name) { return slurp(cgroup_ / name); }

  TempDir cgroup_;
  CpuController cpu_;
};

TEST(CpuWeightTest, IsProportionalToCpusWithOneCpuAtTheDefault) {
  EXPECT_EQ(cpu_weight(1), 100u);
  EXPECT_EQ(cpu_weight(0.5), 50u);
  EXPECT_EQ(cpu_weight(2.5), 250u);
  EXPECT_EQ(cpu_weight(0.001), 1u);
  EXPECT_EQ(cpu_weight(1000), 10'000u);
}

TEST_F(CpuControllerTest, NameIsTheKernels) { EXPECT_EQ(cpu_.name(), "cpu"); }

TEST_F(CpuControllerTest, RequestGivesWeightAndByDefaultAQuota) {
  ASSERT_TRUE(apply(Limits{.cpus = 2}).has_value());
  EXPECT_EQ(file("cpu.weight"), "200");
  EXPECT_EQ(file("cpu.max"), "200000 100000");
}

TEST_F(CpuControllerTest, LimitAboveTheRequestSetsTheQuota) {
  ASSERT_TRUE(apply(Limits{.cpus = 0.5, .cpus_limit = 1.5}).has_value());
  EXPECT_EQ(file("cpu.weight"), "50");
  EXPECT_EQ(file("cpu.max"), "150000 100000");
}

TEST_F(CpuControllerTest, InfiniteLimitIsNoQuotaWithThePeriod) {
  Limits limits{.cpus = 1, .cpus_limit = std::numeric_limits<double>::infinity(), .cpu_period_us = 50'000};
  ASSERT_TRUE(apply(limits).has_value());
  EXPECT_EQ(file("cpu.weight"), "100");
  EXPECT_EQ(file("cpu.max"), "max 50000");
}

TEST_F(CpuControllerTest, WithoutCfsQuotasARequestOnlySetsTheWeight) {
  ASSERT_TRUE(apply(Limits{.cpus = 1.5, .cpu_quota_from_request = false}).has_value());
  EXPECT_EQ(file("cpu.weight"), "150");
  EXPECT_EQ(file("cpu.max"), "max 100000\n") << "untouched";
}

TEST_F(CpuControllerTest, ALimitIsEnforcedEvenWithoutCfsQuotasFromRequests) {
  ASSERT_TRUE(apply(Limits{.cpus = 1, .cpus_limit = 2, .cpu_quota_from_request = false}).has_value());
  EXPECT_EQ(file("cpu.max"), "200000 100000");
}

TEST_F(CpuControllerTest, TinyQuotaIsRaisedToTheKernelsOneMillisecond) {
  ASSERT_TRUE(apply(Limits{.cpus = 0.001}).has_value());
  EXPECT_EQ(file("cpu.max"), "1000 100000");
}

TEST_F(CpuControllerTest, NothingRequestedWritesNothing) {
  ASSERT_TRUE(apply(Limits{}).has_value());
  EXPECT_EQ(file("cpu.weight"), "100\n");
  EXPECT_EQ(file("cpu.max"), "max 100000\n");
}

TEST_F(CpuControllerTest, UpdateRestoresTheDefaultsOfWhatIsNoLongerSet) {
  ASSERT_TRUE(apply(Limits{.cpus = 2, .cpus_limit = 3}).has_value());
  ASSERT_TRUE(cpu_.update(Limits{.cpu_quota_from_request = false}, cgroup_.path()).has_value());
  EXPECT_EQ(file("cpu.weight"), "100");
  EXPECT_EQ(file("cpu.max"), "max 100000");
}

TEST_F(CpuControllerTest, UpdateChangesTheLimit) {
  ASSERT_TRUE(apply(Limits{.cpus = 1}).has_value());
  ASSERT_TRUE(cpu_.update(Limits{.cpus = 1, .cpus_limit = 4}, cgroup_.path()).has_value());
  EXPECT_EQ(file("cpu.weight"), "100");
  EXPECT_EQ(file("cpu.max"), "400000 100000");
}

TEST_F(CpuControllerTest, ErrorsNameTheField) {
  auto below = apply(Limits{.cpus = 2, .cpus_limit = 1});
  ASSERT_FALSE(below.has_value());
  EXPECT_EQ(below.error().message(), "cpus_limit: 1 is below the request cpus = 2");
  auto negative = apply(Limits{.cpus = -1});
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().message(), "cpus: -1 is not a number of CPUs (must be >= 0)");
  auto nan = apply(Limits{.cpus = std::nan("")});
  ASSERT_FALSE(nan.has_value());
  EXPECT_TRUE(nan.error().message().starts_with("cpus: "));
  auto period = apply(Limits{.cpus = 1, .cpu_period_us = 500});
  ASSERT_FALSE(period.has_value());
  EXPECT_EQ(period.error().message(), "cpu_period_us: 500 is outside the kernel's 1000-1000000");
  EXPECT_EQ(file("cpu.weight"), "100\n") << "nothing written before validation";
}

TEST_F(CpuControllerTest, WriteErrorsNameTheFileAndTheValue) {
  std::filesystem::remove(cgroup_ / "cpu.max");
  auto applied = apply(Limits{.cpus = 1});
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().path(), (cgroup_ / "cpu.max").string());
  EXPECT_EQ(applied.error().code(), ENOENT);
}

TEST_F(CpuControllerTest, StatisticsWithTheController) {
  Statistics stats;
  ASSERT_TRUE(read_statistics(cpu_, cgroup_.path(), StatSelection::all, stats).has_value());
  EXPECT_EQ(stats.cpu_usage_us, 71883u);
  EXPECT_EQ(stats.cpu_user_us, 0u);
  EXPECT_EQ(stats.cpu_system_us, 71883u);
  EXPECT_EQ(stats.cpu_periods, 0u);
  EXPECT_EQ(stats.cpu_throttled_periods, 0u);
  EXPECT_EQ(stats.cpu_throttled_us, 0u);
  ASSERT_TRUE(stats.cpu_pressure.has_value());
  EXPECT_EQ(stats.cpu_pressure->some_total_us, 428u);
  EXPECT_EQ(stats.cpu_pressure->full_total_us, 428u);
}

TEST_F(CpuControllerTest, StatisticsWithoutTheControllerHaveNoThrottlingCounters) {
  TempDir core;
  testing::core_cgroup(core.path());
  Statistics stats;
  ASSERT_TRUE(read_statistics(cpu_, core.path(), StatSelection::core_only, stats).has_value());
  EXPECT_EQ(stats.cpu_usage_us, 1520u);
  EXPECT_EQ(stats.cpu_user_us, 1000u);
  EXPECT_EQ(stats.cpu_system_us, 520u);
  EXPECT_FALSE(stats.cpu_periods.has_value());
  EXPECT_FALSE(stats.cpu_throttled_us.has_value());
}

TEST_F(CpuControllerTest, PressureFileIsOptionalCpuStatIsNot) {
  std::filesystem::remove(cgroup_ / "cpu.pressure");
  Statistics stats;
  ASSERT_TRUE(read_statistics(cpu_, cgroup_.path(), StatSelection::all, stats).has_value());
  EXPECT_FALSE(stats.cpu_pressure.has_value());
  std::filesystem::remove(cgroup_ / "cpu.stat");
  auto missing = read_statistics(cpu_, cgroup_.path(), StatSelection::all, stats);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().path(), (cgroup_ / "cpu.stat").string());
}

TEST_F(CpuControllerTest, CorruptCpuStatNamesTheFileAndTheKey) {
  write_text(cgroup_ / "cpu.stat", "usage_usec lots\n");
  Statistics stats;
  auto read = read_statistics(cpu_, cgroup_.path(), StatSelection::all, stats);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().path(), (cgroup_ / "cpu.stat").string());
  EXPECT_EQ(read.error().message(), "malformed value of \"usage_usec\": \"lots\"");
}

}  // namespace
}  // namespace berth::isolators::cgroups2
