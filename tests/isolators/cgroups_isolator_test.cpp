// The cgroups and namespaces isolators without root: refusing a wrong root
// and checking ids (the controllers: cgroups2_*_test.cpp).

#include <sched.h>

#include <gtest/gtest.h>

#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/namespaces.hpp"
#include "isolators/isolators_test_util.hpp"

namespace berth::isolators {
namespace {

using testing::TempDir;

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
  EXPECT_FALSE(CgroupsIsolator::create(CgroupsOptions{.root = root, .required = {"cpu"}}).has_value());
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
