// CgroupBatchWriter against a temp directory standing in for cgroupfs (no
// root): both backends leave the same files and report the same errors.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "berth/isolators/cgroup_batch.hpp"
#include "isolators/isolators_test_util.hpp"

namespace berth::isolators {
namespace {

namespace fs = std::filesystem;
using Backend = CgroupBatchBackend;
using testing::slurp;
using testing::TempDir;
using testing::write_text;

class CgroupBatchTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto created = CgroupBatchWriter::create(GetParam());
    if (!created && GetParam() == Backend::io_uring) GTEST_SKIP() << created.error().what();
    ASSERT_TRUE(created.has_value()) << created.error().what();
    writer_ = std::move(*created);
  }

  // A fake cgroup: a directory with the files cgroupfs would have, holding
  // longer values than the test writes, so truncation shows.
  fs::path fake_cgroup(const std::string& name, const std::vector<std::string>& files) {
    fs::path dir = temp_ / name;
    fs::create_directory(dir);
    for (const auto& file : files) write_text(dir / file, "max 100000\n");
    return dir;
  }

  TempDir temp_;
  std::unique_ptr<CgroupBatchWriter> writer_;
};

TEST_P(CgroupBatchTest, ReportsItsBackend) { EXPECT_EQ(writer_->backend(), GetParam()); }

TEST_P(CgroupBatchTest, WritesEachValueInOrderAndTruncates) {
  auto dir = fake_cgroup("c1", {"cpu.weight", "memory.max", "pids.max"});
  CgroupSetup setup{.cgroup = dir,
                    .directory = CgroupSetup::Directory::existing,
                    .writes = {{"cpu.weight", "250"}, {"memory.max", "67108864"}, {"pids.max", "max"}}};
  auto applied = writer_->apply(setup);
  ASSERT_TRUE(applied.has_value()) << applied.error().what();
  EXPECT_EQ(slurp(dir / "cpu.weight"), "250");
  EXPECT_EQ(slurp(dir / "memory.max"), "67108864");
  EXPECT_EQ(slurp(dir / "pids.max"), "max");
}

TEST_P(CgroupBatchTest, SameFileTwiceKeepsTheLastWrite) {
  auto dir = fake_cgroup("c1", {"cgroup.freeze"});
  CgroupSetup setup{.cgroup = dir,
                    .directory = CgroupSetup::Directory::existing,
                    .writes = {{"cgroup.freeze", "1"}, {"cgroup.freeze", "0"}}};
  ASSERT_TRUE(writer_->apply(setup).has_value());
  EXPECT_EQ(slurp(dir / "cgroup.freeze"), "0");
}

TEST_P(CgroupBatchTest, CreatesTheCgroupWithItsMode) {
  CgroupSetup setup{.cgroup = temp_ / "c2", .mode = 0750};
  auto applied = writer_->apply(setup);
  ASSERT_TRUE(applied.has_value()) << applied.error().what();
  struct stat info {};
  ASSERT_EQ(::stat(setup.cgroup.c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
  mode_t umask = ::umask(0);
  ::umask(umask);
  EXPECT_EQ(info.st_mode & 0777, 0750u & ~umask);
}

TEST_P(CgroupBatchTest, ExistingCgroupIsEexistNamingIt) {
  auto dir = fake_cgroup("c3", {"memory.max"});
  auto applied = writer_->apply(CgroupSetup{.cgroup = dir, .writes = {{"memory.max", "1"}}});
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), EEXIST);
  EXPECT_EQ(applied.error().path(), dir.string());
  EXPECT_EQ(slurp(dir / "memory.max"), "max 100000\n") << "nothing after the failed mkdir may run";
}

TEST_P(CgroupBatchTest, MissingFileStopsTheBatchAndIsNamed) {
  auto dir = fake_cgroup("c4", {"cpu.weight", "pids.max"});
  CgroupSetup setup{.cgroup = dir,
                    .directory = CgroupSetup::Directory::existing,
                    .writes = {{"cpu.weight", "5"}, {"memory.max", "1"}, {"pids.max", "7"}}};
  auto applied = writer_->apply(setup);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), ENOENT);
  EXPECT_EQ(applied.error().path(), (dir / "memory.max").string());
  EXPECT_EQ(applied.error().message(), "open");
  EXPECT_EQ(slurp(dir / "cpu.weight"), "5");
  EXPECT_EQ(slurp(dir / "pids.max"), "max 100000\n");
}

TEST_P(CgroupBatchTest, FilesOfAFreshDirectoryAreMissing) {
  // A plain directory is not cgroupfs: mkdir works, the first open cannot.
  CgroupSetup setup{.cgroup = temp_ / "c5", .writes = {{"cgroup.max.depth", "2"}}};
  auto applied = writer_->apply(setup);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), ENOENT);
  EXPECT_EQ(applied.error().path(), (setup.cgroup / "cgroup.max.depth").string());
  EXPECT_TRUE(fs::is_directory(setup.cgroup));
}

TEST_P(CgroupBatchTest, FailedWriteNamesTheFileAndValue) {
  auto dir = fake_cgroup("c6", {});
  fs::create_symlink("/dev/full", dir / "memory.max");  // every write: ENOSPC
  CgroupSetup setup{.cgroup = dir, .directory = CgroupSetup::Directory::existing, .writes = {{"memory.max", "42"}}};
  auto applied = writer_->apply(setup);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code(), ENOSPC);
  EXPECT_EQ(applied.error().path(), (dir / "memory.max").string());
  EXPECT_EQ(applied.error().message(), "write \"42\" to");
  // The writer stays usable: a failed chain left no file in a slot.
  write_text(dir / "ok", "");
  EXPECT_TRUE(writer_->apply({.cgroup = dir, .directory = CgroupSetup::Directory::existing, .writes = {{"ok", "1"}}}));
}

TEST_P(CgroupBatchTest, MoreFilesThanOneSubmissionHolds) {
  std::vector<std::string> files;
  CgroupSetup setup{.cgroup = temp_ / "c7", .directory = CgroupSetup::Directory::existing};
  for (int i = 0; i < 100; ++i) {
    files.push_back("f" + std::to_string(i));
    setup.writes.push_back({files.back(), std::to_string(i * 3)});
  }
  fake_cgroup("c7", files);
  ASSERT_TRUE(writer_->apply(setup).has_value());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(slurp(setup.cgroup / files[i]), std::to_string(i * 3)) << i;
}

TEST_P(CgroupBatchTest, NoWritesOnlyCreates) {
  ASSERT_TRUE(writer_->apply({.cgroup = temp_ / "c8"}).has_value());
  EXPECT_TRUE(fs::is_directory(temp_ / "c8"));
}

INSTANTIATE_TEST_SUITE_P(Backends, CgroupBatchTest, ::testing::Values(Backend::io_uring, Backend::syscalls),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// The same failing batches through both backends give the same error text.
TEST(CgroupBatch, BothBackendsReportIdenticalErrors) {
  if (!CgroupBatchWriter::io_uring_available()) GTEST_SKIP() << "no io_uring here";
  auto uring = CgroupBatchWriter::create(Backend::io_uring);
  auto plain = CgroupBatchWriter::create(Backend::syscalls);
  ASSERT_TRUE(uring && plain);
  TempDir temp;
  fs::create_directory(temp / "c");
  write_text(temp / "c" / "a", "");
  fs::create_symlink("/dev/full", temp / "c" / "full");
  std::vector<CgroupSetup> failing = {
      {.cgroup = temp / "c"},
      {.cgroup = temp / "missing" / "c"},
      {.cgroup = temp / "c", .directory = CgroupSetup::Directory::existing, .writes = {{"a", "1"}, {"nope", "2"}}},
      {.cgroup = temp / "c", .directory = CgroupSetup::Directory::existing, .writes = {{"a", "1"}, {"full", "3"}}},
  };
  for (const auto& setup : failing) {
    auto a = (*uring)->apply(setup);
    auto b = (*plain)->apply(setup);
    ASSERT_FALSE(a.has_value());
    ASSERT_FALSE(b.has_value());
    EXPECT_EQ(a.error().what(), b.error().what());
    EXPECT_EQ(a.error().code(), b.error().code());
  }
}

TEST(CgroupBatch, AutomaticIsThePlainPath) {
  auto writer = CgroupBatchWriter::create();
  ASSERT_TRUE(writer.has_value());
  EXPECT_EQ((*writer)->backend(), Backend::syscalls);
}

}  // namespace
}  // namespace berth::isolators
