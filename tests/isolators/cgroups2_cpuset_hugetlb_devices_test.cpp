// The cpuset and hugetlb controllers against a fixture cgroup, and the rule
// list the devices controller compiles (the filter itself: device_filter_*).

#include <gtest/gtest.h>

#include <limits>

#include "berth/isolators/cgroups2/cpuset.hpp"
#include "berth/isolators/cgroups2/device_filter.hpp"
#include "berth/isolators/cgroups2/devices.hpp"
#include "berth/isolators/cgroups2/hugetlb.hpp"
#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2 {
namespace {

using testing::slurp;
using testing::TempDir;

class CpusetHugetlbTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::full_cgroup(cgroup_.path()); }
  std::string file(const char* name) { return slurp(cgroup_ / name); }

  TempDir cgroup_;
  CpusetController cpuset_;
  HugetlbController hugetlb_;
};

TEST(CpusetListTest, AcceptsTheKernelsListSyntax) {
  for (const char* list : {"0", "0-3", "0-3,6", "1,3,5-7", "0-0", "12-15,31"}) {
    EXPECT_TRUE(is_cpuset_list(list)) << list;
  }
}

TEST(CpusetListTest, RejectsAnythingElse) {
  for (const char* list : {"", "3-1", "0,", ",0", "0-", "-1", "a", "0 - 3", "0-3,,4", "0;1", "0-3 "}) {
    EXPECT_FALSE(is_cpuset_list(list)) << list;
  }
}

TEST_F(CpusetHugetlbTest, CpusetWritesWhatIsRequested) {
  ASSERT_TRUE(cpuset_.apply(Limits{.cpuset_cpus = "0-1", .cpuset_mems = "0"}, cgroup_.path()).has_value());
  EXPECT_EQ(file("cpuset.cpus"), "0-1");
  EXPECT_EQ(file("cpuset.mems"), "0");
}

TEST_F(CpusetHugetlbTest, CpusetUnsetIsLeftAloneThenRestoredToTheParents) {
  ASSERT_TRUE(cpuset_.apply(Limits{.cpuset_cpus = "1"}, cgroup_.path()).has_value());
  EXPECT_EQ(file("cpuset.mems"), "\n");
  ASSERT_TRUE(cpuset_.update(Limits{}, cgroup_.path()).has_value());
  // An empty write (whitespace) is "inherit the parent's", as the kernel strips it.
  EXPECT_EQ(file("cpuset.cpus"), "\n");
}

TEST_F(CpusetHugetlbTest, CpusetErrorsNameTheField) {
  auto cpus = cpuset_.apply(Limits{.cpuset_cpus = "3-1"}, cgroup_.path());
  ASSERT_FALSE(cpus.has_value());
  EXPECT_EQ(cpus.error().message(), "cpuset_cpus: \"3-1\" is not a list such as \"0-3,6\"");
  auto mems = cpuset_.apply(Limits{.cpuset_mems = "zero"}, cgroup_.path());
  ASSERT_FALSE(mems.has_value());
  EXPECT_EQ(mems.error().message(), "cpuset_mems: \"zero\" is not a list such as \"0-3,6\"");
}

TEST(HugePageSizeTest, KernelNames) {
  for (const char* size : {"2MB", "1GB", "64KB", "16GB", "512MB"}) EXPECT_TRUE(is_huge_page_size(size)) << size;
  for (const char* size : {"2M", "MB", "2mb", "2 MB", "2048kB", "1TB", ""}) {
    EXPECT_FALSE(is_huge_page_size(size)) << size;
  }
}

TEST_F(CpusetHugetlbTest, HugetlbMaxPerSize) {
  Limits limits{.hugetlb = {{"2MB", 8 << 20}, {"1GB", std::numeric_limits<std::uint64_t>::max()}}};
  ASSERT_TRUE(hugetlb_.apply(limits, cgroup_.path()).has_value());
  EXPECT_EQ(file("hugetlb.2MB.max"), "8388608");
  EXPECT_EQ(file("hugetlb.1GB.max"), "max");
  EXPECT_EQ(file("hugetlb.2MB.rsvd.max"), "max\n");
}

TEST_F(CpusetHugetlbTest, HugetlbUpdateRestoresSizesNoLongerLimited) {
  ASSERT_TRUE(hugetlb_.apply(Limits{.hugetlb = {{"2MB", 4 << 20}, {"1GB", 1 << 30}}}, cgroup_.path()).has_value());
  ASSERT_TRUE(hugetlb_.update(Limits{.hugetlb = {{"1GB", 0}}}, cgroup_.path()).has_value());
  EXPECT_EQ(file("hugetlb.2MB.max"), "max");
  EXPECT_EQ(file("hugetlb.1GB.max"), "0");
  EXPECT_EQ(file("hugetlb.2MB.rsvd.max"), "max\n") << "reservations are not limited";
}

TEST_F(CpusetHugetlbTest, HugetlbErrors) {
  auto bad = hugetlb_.apply(Limits{.hugetlb = {{"2M", 1}}}, cgroup_.path());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "hugetlb[\"2M\"]: not a huge page size as the kernel names it (\"2MB\", \"1GB\")");
  auto absent = hugetlb_.apply(Limits{.hugetlb = {{"16GB", 1}}}, cgroup_.path());
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().path(), (cgroup_ / "hugetlb.16GB.max").string());
  EXPECT_EQ(absent.error().code(), ENOENT);
}

TEST(DevicesControllerTest, RulesAreTheContainersOwnThenTheDefaults) {
  Limits limits{.devices = {{.type = 'c', .major = 10, .minor = 200, .access = "rw"}}};
  auto rules = device_rules(limits);
  auto defaults = default_device_rules();
  ASSERT_EQ(rules.size(), defaults.size() + 1);
  EXPECT_EQ(rules.front().major, 10);
  EXPECT_EQ(rules.front().minor, 200);
  EXPECT_EQ(rules.front().access, "rw");
  EXPECT_EQ(rules.back().access, defaults.back().access);
  EXPECT_EQ(rules.back().major, defaults.back().major);
  EXPECT_EQ(DevicesController().name(), "devices");
  EXPECT_TRUE(DevicesController().stat_files().empty());
}

}  // namespace
}  // namespace berth::isolators::cgroups2
