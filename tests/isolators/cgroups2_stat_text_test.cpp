// cgroupfs value parsing: numbers and "max", flat-keyed files, PSI lines.

#include "berth/isolators/cgroups2/stat_text.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2::stat_text {
namespace {

constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();

TEST(StatTextTest, NumbersAndMax) {
  EXPECT_EQ(to_u64("42"), 42u);
  EXPECT_EQ(to_u64("max"), kMax);
  EXPECT_FALSE(to_u64("").has_value());
  EXPECT_FALSE(to_u64("-1").has_value());
  EXPECT_FALSE(to_u64("4 2").has_value());
  EXPECT_EQ(limit_value(kMax), "max");
  EXPECT_EQ(limit_value(7), "7");
  EXPECT_EQ(single_value("8388608\n").value(), 8388608u);
  EXPECT_EQ(single_value("max\n").value(), kMax);
  EXPECT_EQ(single_value("x\n").error().message(), "not a number: \"x\"");
  EXPECT_EQ(to_text(0.5), "0.5");
  EXPECT_EQ(to_text(2), "2");
}

TEST(StatTextTest, FlatKeyedLines) {
  std::map<std::string, std::string> seen;
  auto visited = for_each_key(testing::kCpuStat, [&](std::string_view key, std::string_view value) -> Result<void> {
    seen.emplace(key, value);
    return {};
  });
  ASSERT_TRUE(visited.has_value());
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen["usage_usec"], "71883");
  EXPECT_EQ(seen["burst_usec"], "0");
  auto malformed = for_each_key("usage_usec\n", [](auto, auto) -> Result<void> { return {}; });
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().message(), "malformed line \"usage_usec\": no value");
}

TEST(StatTextTest, PressureWithAndWithoutAFullLine) {
  auto stall = pressure(testing::kMemoryPressure).value();
  EXPECT_DOUBLE_EQ(stall.some_avg10, 1.52);
  EXPECT_EQ(stall.full_total_us, 180111u);
  // cpu.pressure before 5.13: no "full" line.
  auto some_only = pressure("some avg10=2.04 avg60=0.75 avg300=0.40 total=157656722\n").value();
  EXPECT_DOUBLE_EQ(some_only.some_avg60, 0.75);
  EXPECT_EQ(some_only.some_total_us, 157656722u);
  EXPECT_EQ(some_only.full_total_us, 0u);
}

TEST(StatTextTest, MalformedPressure) {
  EXPECT_EQ(pressure("").error().message(), "no \"some\" line");
  EXPECT_EQ(pressure("some avg10=x total=0\n").error().message(), "malformed pressure field \"avg10=x\"");
  EXPECT_EQ(pressure("some total\n").error().message(), "malformed pressure field \"total\"");
  EXPECT_EQ(pressure("most avg10=0.00\n").error().message(), "malformed pressure line \"most ...\"");
}

}  // namespace
}  // namespace berth::isolators::cgroups2::stat_text
