// The cgroups and namespaces isolators without root: refusing a wrong root,
// checking ids, and the controllers writing limits into a fixture directory.

#include <sched.h>

#include <gtest/gtest.h>

#include "berth/isolators/cgroup_controllers.hpp"
#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/namespaces.hpp"
#include "isolators/isolators_test_util.hpp"

namespace berth::isolators {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_text;

TEST(CgroupsIsolatorTest, CreateRejectsARootThatIsNotCgroup2) {
  TempDir dir;
  auto isolator = CgroupsIsolator::create(dir.path());
  ASSERT_FALSE(isolator.has_value());
  EXPECT_EQ(isolator.error().what(), "cgroup root " + dir.path().string() +
                                         ": not a cgroup v2 filesystem (mount cgroup2 there, or pick a directory "
                                         "under it) '" + dir.path().string() + "'");
}

TEST(CgroupsIsolatorTest, CreateDoesNotMakeARootOutsideCgroup2) {
  TempDir dir;
  auto root = dir / "a" / "b";
  EXPECT_FALSE(CgroupsIsolator::create(root).has_value());
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
}

TEST(ContainerIdTest, AcceptsDirectoryNames) {
  EXPECT_TRUE(check_container_id("c1").has_value());
  EXPECT_TRUE(check_container_id("3f1e-a9.b_c").has_value());
}

TEST(ContainerIdTest, RejectsWhatIsNotOneDirectoryName) {
  for (const auto& bad : std::vector<std::string>{"", ".", "..", "a/b", "/abs", std::string("a\0b", 3), std::string(256, 'x')}) {
    EXPECT_FALSE(check_container_id(bad).has_value()) << bad;
  }
}

TEST(CpuControllerTest, WeightIsProportionalToCpusWithOneCpuAtTheDefault) {
  EXPECT_EQ(cpu_weight(1), 100u);
  EXPECT_EQ(cpu_weight(0.5), 50u);
  EXPECT_EQ(cpu_weight(2.5), 250u);
  EXPECT_EQ(cpu_weight(0.001), 1u);
  EXPECT_EQ(cpu_weight(1000), 10'000u);
}

TEST(CpuControllerTest, WritesCpuWeight) {
  TempDir cgroup;
  write_text(cgroup / "cpu.weight", "100\n");
  ContainerConfig config{.container_id = "c", .cpus = 2, .mem_bytes = 0};
  ASSERT_TRUE(CpuController().apply(config, cgroup.path()).has_value());
  EXPECT_EQ(slurp(cgroup / "cpu.weight"), "200");
}

TEST(CpuControllerTest, NoCpusLeavesTheDefault) {
  TempDir cgroup;
  write_text(cgroup / "cpu.weight", "100\n");
  ASSERT_TRUE(CpuController().apply(ContainerConfig{.container_id = "c"}, cgroup.path()).has_value());
  EXPECT_EQ(slurp(cgroup / "cpu.weight"), "100\n");
}

TEST(MemoryControllerTest, WritesMemoryMax) {
  TempDir cgroup;
  write_text(cgroup / "memory.max", "max\n");
  ContainerConfig config{.container_id = "c", .cpus = 1, .mem_bytes = 64 << 20};
  ASSERT_TRUE(MemoryController().apply(config, cgroup.path()).has_value());
  EXPECT_EQ(slurp(cgroup / "memory.max"), "67108864");
}

TEST(MemoryControllerTest, MissingFileIsAnError) {
  TempDir cgroup;
  ContainerConfig config{.container_id = "c", .cpus = 1, .mem_bytes = 1 << 20};
  auto applied = MemoryController().apply(config, cgroup.path());
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().path(), (cgroup / "memory.max").string());
}

TEST(CgroupControllersTest, TableNamesKernelControllers) {
  std::vector<std::string_view> names;
  for (const auto* controller : cgroup_controllers()) names.push_back(controller->name());
  EXPECT_EQ(names, (std::vector<std::string_view>{"cpu", "memory", "pids"}));
}

TEST(NamespacesIsolatorTest, PreparesPidMountUtsAndIpcNamespaces) {
  NamespacesIsolator isolator;
  EXPECT_EQ(isolator.name(), "namespaces");
  auto info = isolator.prepare(ContainerConfig{.container_id = "c"}).value();
  EXPECT_EQ(info.namespaces, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC);
  EXPECT_FALSE(info.cgroup.has_value());
  EXPECT_TRUE(isolator.cleanup("unknown").has_value());
}

}  // namespace
}  // namespace berth::isolators
