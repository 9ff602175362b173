// CgroupBatchWriter on the real cgroup2 hierarchy (root). Each test works in
// its own parent cgroup under the cgroup2 mount, removed afterwards. Only
// core files are written: controllers are not assumed.

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "berth/isolators/cgroup_batch.hpp"
#include "berth/isolators/cgroupfs.hpp"
#include "isolators/isolators_test_util.hpp"
#include "support/root.hpp"

namespace berth::isolators {
namespace {

namespace fs = std::filesystem;
using Backend = CgroupBatchBackend;
using testing::slurp;

class CgroupBatchRootTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    const auto mount = isolators::testing::cgroup2_mount();
    ASSERT_FALSE(mount.empty()) << "no cgroup2 mount";
    auto created = CgroupBatchWriter::create(GetParam());
    if (!created && GetParam() == Backend::io_uring) GTEST_SKIP() << created.error().what();
    ASSERT_TRUE(created.has_value()) << created.error().what();
    writer_ = std::move(*created);
    static std::atomic<int> counter{0};
    parent_ = mount /
              ("berth-batch-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    ASSERT_EQ(::mkdir(parent_.c_str(), 0755), 0);
  }

  void TearDown() override {
    if (parent_.empty()) return;
    auto removed = cgroupfs::remove_tree(parent_);
    EXPECT_TRUE(removed.has_value()) << removed.error().what();
    EXPECT_FALSE(fs::exists(parent_));
  }

  // The limits a container gets here, in core files every cgroup has.
  static std::vector<CgroupFileWrite> limits() {
    return {{"cgroup.max.descendants", "5"}, {"cgroup.max.depth", "2"}, {"cgroup.freeze", "0"}};
  }

  std::unique_ptr<CgroupBatchWriter> writer_;
  fs::path parent_;
};

TEST_P(CgroupBatchRootTest, CreatesTheCgroupAndWritesItsLimits) {
  CgroupSetup setup{.cgroup = parent_ / "c1", .writes = limits()};
  auto applied = writer_->apply(setup);
  ASSERT_TRUE(applied.has_value()) << applied.error().what();
  ASSERT_TRUE(cgroupfs::check_cgroup2(setup.cgroup).has_value());
  EXPECT_EQ(slurp(setup.cgroup / "cgroup.max.descendants"), "5\n");
  EXPECT_EQ(slurp(setup.cgroup / "cgroup.max.depth"), "2\n");
  EXPECT_EQ(slurp(setup.cgroup / "cgroup.freeze"), "0\n");
  // The kernel enforces what was written: depth 2 allows a grandchild, not deeper.
  ASSERT_EQ(::mkdir((setup.cgroup / "a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((setup.cgroup / "a" / "b").c_str(), 0755), 0);
  EXPECT_NE(::mkdir((setup.cgroup / "a" / "b" / "c").c_str(), 0755), 0);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_P(CgroupBatchRootTest, ValueTheKernelRejectsIsNamedAndStopsTheBatch) {
  CgroupSetup setup{.cgroup = parent_ / "c2",
                    .writes = {{"cgroup.max.depth", "3"}, {"cgroup.max.descendants", "bogus"}, {"cgroup.freeze", "1"}}};
  auto applied = writer_->apply(setup);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), EINVAL);
  EXPECT_EQ(applied.error().path(), (setup.cgroup / "cgroup.max.descendants").string());
  EXPECT_EQ(applied.error().message(), "write \"bogus\" to");
  EXPECT_EQ(slurp(setup.cgroup / "cgroup.max.depth"), "3\n");
  EXPECT_EQ(slurp(setup.cgroup / "cgroup.freeze"), "0\n") << "the write after the failure ran";
}

TEST_P(CgroupBatchRootTest, ControllerFileThatIsNotThereIsEnoent) {
  // No controller is enabled in parent_'s subtree_control, so a child has no
  // pids.max even where the kernel offers pids.
  CgroupSetup setup{.cgroup = parent_ / "c3", .writes = {{"pids.max", "10"}}};
  auto applied = writer_->apply(setup);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), ENOENT);
  EXPECT_EQ(applied.error().path(), (setup.cgroup / "pids.max").string());
}

TEST_P(CgroupBatchRootTest, ExistingCgroupIsLeftAlone) {
  CgroupSetup setup{.cgroup = parent_ / "c4", .writes = limits()};
  ASSERT_EQ(::mkdir(setup.cgroup.c_str(), 0755), 0);
  auto applied = writer_->apply(setup);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), EEXIST);
  EXPECT_EQ(slurp(setup.cgroup / "cgroup.max.depth"), "max\n");
}

TEST_P(CgroupBatchRootTest, ManyContainersInARow) {
  for (int i = 0; i < 50; ++i) {
    CgroupSetup setup{.cgroup = parent_ / ("c" + std::to_string(100 + i)), .writes = limits()};
    auto applied = writer_->apply(setup);
    ASSERT_TRUE(applied.has_value()) << applied.error().what();
    EXPECT_EQ(slurp(setup.cgroup / "cgroup.max.descendants"), "5\n");
  }
  auto children = cgroupfs::list_children(parent_);
  ASSERT_TRUE(children.has_value());
  EXPECT_EQ(children->size(), 50u);
}

INSTANTIATE_TEST_SUITE_P(Backends, CgroupBatchRootTest, ::testing::Values(Backend::io_uring, Backend::syscalls),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace berth::isolators
