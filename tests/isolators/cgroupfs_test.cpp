// cgroupfs against a temp directory of fixture files: what the kernel would
// show in a cgroup directory, without needing one.

#include "berth/isolators/cgroupfs.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "isolators/isolators_test_util.hpp"

namespace berth::isolators::cgroupfs {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_text;

class CgroupfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir_ / "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnice_usec 0\n");
    write_text(dir_ / "cgroup.procs", "");
  }
  TempDir dir_;
};

TEST_F(CgroupfsTest, UsageWithEveryControllerFile) {
  write_text(dir_ / "memory.current", "4096\n");
  write_text(dir_ / "pids.current", "3\n");
  write_text(dir_ / "cgroup.procs", "10\n11\n");  // pids.current wins: it counts threads of the subtree
  auto usage = read_usage(dir_.path()).value();
  EXPECT_EQ(usage.cpu_usage_usec, 1500u);
  EXPECT_EQ(usage.cpu_user_usec, 1000u);
  EXPECT_EQ(usage.cpu_system_usec, 500u);
  EXPECT_EQ(usage.memory_current, 4096u);
  EXPECT_EQ(usage.pids_current, 3u);
}

TEST_F(CgroupfsTest, UsageWithCoreFilesOnlyCountsProcs) {
  write_text(dir_ / "cgroup.procs", "10\n11\n12\n");
  auto usage = read_usage(dir_.path()).value();
  EXPECT_EQ(usage.cpu_usage_usec, 1500u);
  EXPECT_FALSE(usage.memory_current.has_value());
  EXPECT_EQ(usage.pids_current, 3u);
}

TEST_F(CgroupfsTest, CorruptCounterIsAnErrorNamingTheFile) {
  write_text(dir_ / "memory.current", "lots\n");
  auto usage = read_usage(dir_.path());
  ASSERT_FALSE(usage.has_value());
  EXPECT_EQ(usage.error().path(), (dir_ / "memory.current").string());
}

TEST_F(CgroupfsTest, MissingCpuStatIsAnError) {
  std::filesystem::remove(dir_ / "cpu.stat");
  auto usage = read_usage(dir_.path());
  ASSERT_FALSE(usage.has_value());
  EXPECT_EQ(usage.error().code(), ENOENT);
}

TEST_F(CgroupfsTest, ReadsControllers) {
  write_text(dir_ / "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
  EXPECT_EQ(read_controllers(dir_.path()).value(),
            (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}));
  write_text(dir_ / "cgroup.controllers", "\n");
  EXPECT_TRUE(read_controllers(dir_.path()).value().empty());
}

TEST_F(CgroupfsTest, EnablesControllersInOneWrite) {
  write_text(dir_ / "cgroup.subtree_control", "");
  ASSERT_TRUE(enable_controllers(dir_.path(), {"cpu", "memory"}).has_value());
  EXPECT_EQ(slurp(dir_ / "cgroup.subtree_control"), "+cpu +memory");
}

TEST_F(CgroupfsTest, EnablingNothingWritesNothing) {
  EXPECT_TRUE(enable_controllers(dir_.path(), {}).has_value());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cgroup.subtree_control"));
}

TEST_F(CgroupfsTest, ListsChildCgroupsOnlySorted) {
  std::filesystem::create_directory(dir_ / "b");
  std::filesystem::create_directory(dir_ / "a");
  EXPECT_EQ(list_children(dir_.path()).value(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(CgroupfsTest, PopulatedComesFromCgroupEvents) {
  write_text(dir_ / "cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_TRUE(is_populated(dir_.path()).value());
  write_text(dir_ / "cgroup.events", "populated 0\nfrozen 0\n");
  EXPECT_FALSE(is_populated(dir_.path()).value());
  write_text(dir_ / "cgroup.events", "frozen 0\n");
  EXPECT_FALSE(is_populated(dir_.path()).has_value());
}

TEST_F(CgroupfsTest, WaitUnpopulatedTimesOutWithAClearError) {
  write_text(dir_ / "cgroup.events", "populated 1\nfrozen 0\n");
  auto waited = wait_unpopulated(dir_.path(), std::chrono::milliseconds(50));
  ASSERT_FALSE(waited.has_value());
  EXPECT_EQ(waited.error().code(), ETIMEDOUT);
  EXPECT_EQ(waited.error().what(), "processes still running 50 ms after cgroup.kill in '" + dir_.path().string() +
                                       "': Connection timed out");
}

TEST_F(CgroupfsTest, WaitUnpopulatedWakesOnAChangeOfCgroupEvents) {
  write_text(dir_ / "cgroup.events", "populated 1\n");
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // In place, in one write, as the kernel changes the file: a truncate
    // first would let the waiter read an empty file.
    std::fstream events(dir_ / "cgroup.events", std::ios::in | std::ios::out);
    events << "populated 0\n" << std::flush;
  });
  auto start = std::chrono::steady_clock::now();
  auto waited = wait_unpopulated(dir_.path(), std::chrono::seconds(10));
  writer.join();
  EXPECT_TRUE(waited.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CgroupfsTest, RemoveTreeRemovesChildrenFirstAndToleratesAbsence) {
  auto cgroup = dir_ / "c";
  std::filesystem::create_directories(cgroup / "x" / "y");
  std::filesystem::create_directories(cgroup / "z");
  ASSERT_TRUE(remove_tree(cgroup).has_value());
  EXPECT_FALSE(std::filesystem::exists(cgroup));
  EXPECT_TRUE(remove_tree(cgroup).has_value());
  EXPECT_TRUE(destroy(cgroup).has_value());
}

TEST_F(CgroupfsTest, RejectsADirectoryThatIsNotCgroup2) {
  auto checked = check_cgroup2(dir_.path());
  ASSERT_FALSE(checked.has_value());
  EXPECT_NE(checked.error().message().find("not a cgroup v2 filesystem"), std::string::npos);
  EXPECT_EQ(checked.error().path(), dir_.path().string());
}

TEST_F(CgroupfsTest, WriteFileReportsTheValueAndFile) {
  auto written = write_file(dir_ / "missing", "1");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code(), ENOENT);
}

}  // namespace
}  // namespace berth::isolators::cgroupfs
