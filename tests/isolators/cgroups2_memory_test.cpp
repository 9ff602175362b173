// The memory controller against a fixture cgroup: memory.max / low / high /
// swap.max / oom.group with Mesos semantics, live updates, and the parsing of
// memory.current, memory.peak, memory.stat, memory.events, memory.pressure.

#include "berth/isolators/cgroups2/memory.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2 {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_text;

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

class MemoryControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::full_cgroup(cgroup_.path()); }
  Result<void> apply(const Limits& limits) { return memory_.apply(limits, cgroup_.path()); }
  Result<void> update(const Limits& limits) { return memory_.update(limits, cgroup_.path()); }
  std::string file(const char* name) { return slurp(cgroup_ / name); }
  Statistics statistics() {
    Statistics stats;
    auto read = read_statistics(memory_, cgroup_.path(), StatSelection::all, stats);
    EXPECT_TRUE(read.has_value()) << read.error().what();
    return stats;
  }

  TempDir cgroup_;
  MemoryController memory_;
};

TEST_F(MemoryControllerTest, RequestAloneIsTheHardLimitWithNoProtection) {
  ASSERT_TRUE(apply(Limits{.mem_bytes = 64 * kMiB}).has_value());
  EXPECT_EQ(file("memory.max"), "67108864");
  EXPECT_EQ(file("memory.low"), "0\n") << "untouched: limit == request";
  EXPECT_EQ(file("memory.high"), "max\n");
  EXPECT_EQ(file("memory.swap.max"), "max\n");
  EXPECT_EQ(file("memory.oom.group"), "1");
}

TEST_F(MemoryControllerTest, LimitAboveTheRequestProtectsTheRequest) {
  ASSERT_TRUE(apply(Limits{.mem_bytes = 64 * kMiB, .mem_limit = 128 * kMiB}).has_value());
  EXPECT_EQ(file("memory.max"), "134217728");
  EXPECT_EQ(file("memory.low"), "67108864");
}

TEST_F(MemoryControllerTest, InfiniteLimitIsMaxAndStillProtectsTheRequest) {
  ASSERT_TRUE(apply(Limits{.mem_bytes = 32 * kMiB, .mem_limit = kUnlimited}).has_value());
  EXPECT_EQ(file("memory.max"), "max");
  EXPECT_EQ(file("memory.low"), "33554432");
}

TEST_F(MemoryControllerTest, HighAndSwapWhenSet) {
  ASSERT_TRUE(apply(Limits{.mem_bytes = 64 * kMiB, .mem_high = 48 * kMiB, .swap_max_bytes = 0}).has_value());
  EXPECT_EQ(file("memory.high"), "50331648");
  EXPECT_EQ(file("memory.swap.max"), "0");
}

TEST_F(MemoryControllerTest, NoMemoryAtAllStillGroupsOomKills) {
  ASSERT_TRUE(apply(Limits{}).has_value());
  EXPECT_EQ(file("memory.max"), "max\n");
  EXPECT_EQ(file("memory.oom.group"), "1");
}

TEST_F(MemoryControllerTest, LimitBelowTheRequestIsAnErrorNamingTheField) {
  auto applied = apply(Limits{.mem_bytes = 64 * kMiB, .mem_limit = 32 * kMiB});
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().message(), "mem_limit: 33554432 bytes is below the request mem_bytes = 67108864");
  EXPECT_EQ(file("memory.max"), "max\n");
}

TEST_F(MemoryControllerTest, MissingFileNamesItAndTheValue) {
  std::filesystem::remove(cgroup_ / "memory.max");
  auto applied = apply(Limits{.mem_bytes = kMiB});
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().path(), (cgroup_ / "memory.max").string());
  EXPECT_EQ(applied.error().code(), ENOENT);
}

TEST_F(MemoryControllerTest, UpdateRestoresWhatIsNoLongerSet) {
  ASSERT_TRUE(apply(Limits{.mem_bytes = 64 * kMiB, .mem_limit = 128 * kMiB, .mem_high = 100 * kMiB,
                           .swap_max_bytes = 0}).has_value());
  ASSERT_TRUE(update(Limits{.mem_bytes = 256 * kMiB}).has_value());
  EXPECT_EQ(file("memory.max"), "268435456");
  EXPECT_EQ(file("memory.low"), "0");
  EXPECT_EQ(file("memory.high"), "max");
  EXPECT_EQ(file("memory.swap.max"), "max");
  EXPECT_EQ(file("memory.oom.group"), "1");
}

TEST_F(MemoryControllerTest, UpdateWithoutSwapAccountingLeavesSwapAlone) {
  std::filesystem::remove(cgroup_ / "memory.swap.max");
  ASSERT_TRUE(update(Limits{.mem_bytes = kMiB}).has_value());
  EXPECT_FALSE(std::filesystem::exists(cgroup_ / "memory.swap.max"));
}

TEST_F(MemoryControllerTest, Statistics) {
  auto stats = statistics();
  EXPECT_EQ(stats.memory_current, 4567040u);
  EXPECT_EQ(stats.memory_peak, 5767168u);
  EXPECT_EQ(stats.memory_anon, 0u);
  EXPECT_EQ(stats.memory_file, 4194304u);
  EXPECT_EQ(stats.memory_kernel, 16384u);
  EXPECT_EQ(stats.memory_oom, 0u);
  EXPECT_EQ(stats.memory_oom_kill, 0u);
  EXPECT_EQ(stats.memory_high_events, 0u);
  EXPECT_EQ(stats.memory_max_events, 0u);
  ASSERT_TRUE(stats.memory_pressure.has_value());
  EXPECT_DOUBLE_EQ(stats.memory_pressure->some_avg10, 1.52);
  EXPECT_DOUBLE_EQ(stats.memory_pressure->some_avg60, 0.40);
  EXPECT_DOUBLE_EQ(stats.memory_pressure->some_avg300, 0.09);
  EXPECT_EQ(stats.memory_pressure->some_total_us, 361482u);
  EXPECT_DOUBLE_EQ(stats.memory_pressure->full_avg10, 0.75);
  EXPECT_EQ(stats.memory_pressure->full_total_us, 180111u);
}

TEST_F(MemoryControllerTest, EventsAfterAnOomKill) {
  write_text(cgroup_ / "memory.events", testing::kMemoryEventsAfterOom);
  auto stats = statistics();
  EXPECT_EQ(stats.memory_oom, 1u);
  EXPECT_EQ(stats.memory_oom_kill, 2u);
  EXPECT_EQ(stats.memory_max_events, 39u);
}

TEST_F(MemoryControllerTest, KernelMemoryBefore518IsTheSumOfItsParts) {
  write_text(cgroup_ / "memory.stat", testing::kMemoryStatBefore518);
  auto stats = statistics();
  EXPECT_EQ(stats.memory_anon, 1937408u);
  EXPECT_EQ(stats.memory_file, 4096000u);
  // kernel_stack + pagetables + percpu + slab; not sock.
  EXPECT_EQ(stats.memory_kernel, 49152u + 126976u + 2880u + 434832u);
}

TEST_F(MemoryControllerTest, PeakIsOptionalBefore519) {
  std::filesystem::remove(cgroup_ / "memory.peak");
  auto stats = statistics();
  EXPECT_FALSE(stats.memory_peak.has_value());
  EXPECT_EQ(stats.memory_current, 4567040u);
}

TEST_F(MemoryControllerTest, WithoutTheControllerOnlyPressureIsRead) {
  TempDir core;
  testing::core_cgroup(core.path());
  Statistics stats;
  ASSERT_TRUE(read_statistics(memory_, core.path(), StatSelection::core_only, stats).has_value());
  EXPECT_FALSE(stats.memory_current.has_value());
  EXPECT_TRUE(stats.memory_pressure.has_value());
  auto all = read_statistics(memory_, core.path(), StatSelection::all, stats);
  ASSERT_FALSE(all.has_value());
  EXPECT_EQ(all.error().path(), (core / "memory.current").string());
}

TEST_F(MemoryControllerTest, CorruptCounterNamesTheFile) {
  write_text(cgroup_ / "memory.current", "lots\n");
  Statistics stats;
  auto read = read_statistics(memory_, cgroup_.path(), StatSelection::all, stats);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().path(), (cgroup_ / "memory.current").string());
  EXPECT_EQ(read.error().message(), "not a number: \"lots\"");
}

}  // namespace
}  // namespace berth::isolators::cgroups2
