// What only root may do when extracting a layer: whiteout devices, the
// trusted.* opaque xattr, ownership and device nodes, and an overlayfs
// mount that reads the result.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "berth/fetcher/layer_extractor.hpp"
#include "layer_archives.hpp"
#include "layer_test_fixture.hpp"
#include "support/root.hpp"

namespace berth::fetcher {
namespace {

using berth::testing::dir;
using berth::testing::file;
using berth::testing::make_layer;
using berth::testing::slurp;
using berth::testing::symlink;
using berth::testing::TarItem;

constexpr const char* kOpaque = "trusted.overlay.opaque";
constexpr const char* kUserOpaque = "user.overlay.opaque";  // for overlays mounted with userxattr

// Mounts made here stay in the test process's own mount namespace.
bool enter_private_mount_namespace() {
  static const bool entered =
      ::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  return entered;
}

bool stores_trusted_xattrs(const fs::path& path) {
  return ::setxattr(path.c_str(), "trusted.berth-probe", "1", 1, 0) == 0 &&
         ::removexattr(path.c_str(), "trusted.berth-probe") == 0;
}

bool is_whiteout_device(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0);
}

std::string xattr_of(const fs::path& path, const char* name) {
  char value[16] = {};
  ssize_t n = ::lgetxattr(path.c_str(), name, value, sizeof value);
  return n < 0 ? "<" + std::string(std::strerror(errno)) + ">" : std::string(value, static_cast<std::size_t>(n));
}

TarItem owned(TarItem item, std::int64_t uid, std::int64_t gid) {
  item.uid = uid;
  item.gid = gid;
  return item;
}

class LayerRootTest : public LayerTest {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    // The opaque xattr needs a filesystem that stores trusted.* xattrs
    // (ext4, xfs and tmpfs do for root); where the test directory's does
    // not, the root becomes a tmpfs of its own.
    if (!stores_trusted_xattrs(root)) {
      ASSERT_TRUE(enter_private_mount_namespace()) << std::strerror(errno);
      ASSERT_EQ(::mount("tmpfs", root.c_str(), "tmpfs", 0, "mode=0755"), 0) << std::strerror(errno);
      mounted_ = true;
      root_fd = make_root(root);
      ASSERT_TRUE(stores_trusted_xattrs(root));
    }
  }
  void TearDown() override {
    if (mounted_) ::umount2(root.c_str(), MNT_DETACH);
  }

  bool mounted_ = false;
};

TEST_F(LayerRootTest, WhiteoutsBecomeZeroZeroCharacterDevices) {
  auto stats = extract(make_layer({file(".wh.gone", ""), dir("d"), file("d/kept", "k"), file("d/.wh.old", ""),
                                   file("missing/parent/.wh.x", "")},
                                  LayerCompression::gzip));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_TRUE(is_whiteout_device(root / "gone"));
  EXPECT_TRUE(is_whiteout_device(root / "d/old"));
  EXPECT_TRUE(is_whiteout_device(root / "missing/parent/x"));
  EXPECT_EQ(slurp(root / "d/kept"), "k");
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / ".wh.gone")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "d/.wh.old")));
  EXPECT_EQ(stats->whiteouts, 3u);
  EXPECT_EQ(stats->entries, 5u);
}

TEST_F(LayerRootTest, WhiteoutHidesOnlyLowerLayers) {
  auto stats = extract(make_layer({file("same-layer", "stays"), file(".wh.same-layer", ""), file(".wh.revived", ""),
                                   file("revived", "back")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "same-layer"), "stays");
  EXPECT_EQ(slurp(root / "revived"), "back");
  EXPECT_EQ(stats->whiteouts, 1u);
}

TEST_F(LayerRootTest, OpaqueMarkerSetsTheOverlayXattrOnItsDirectory) {
  auto stats = extract(make_layer({dir("o"), file("o/.wh..wh..opq", ""), file("o/new", "n"),
                                   file("implicit/.wh..wh..opq", "")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(xattr_of(root / "o", kOpaque), "y");
  EXPECT_EQ(xattr_of(root / "implicit", kOpaque), "y");
  EXPECT_EQ(xattr_of(root / "o", kUserOpaque), "y");
  EXPECT_EQ(xattr_of(root / "implicit", kUserOpaque), "y");
  EXPECT_EQ(slurp(root / "o/new"), "n");
  EXPECT_FALSE(fs::exists(root / "o/.wh..wh..opq"));
  EXPECT_EQ(stats->opaque_dirs, 2u);
}

TEST_F(LayerRootTest, OverlayfsReadsTheWhiteoutsAsDeletions) {
  const fs::path lower = temp / "lower";
  UniqueFd lower_fd = make_root(lower);
  auto base = extract_layer(lower_fd.get(), berth::testing::memory_source(make_layer({
                                                 file("a/keep", "keep"),
                                                 file("a/gone", "gone"),
                                                 file("o/old", "old"),
                                             })));
  ASSERT_TRUE(base.has_value()) << base.error().what();
  auto upper = extract(make_layer({file("a/.wh.gone", ""), file("o/.wh..wh..opq", ""), file("o/new", "new")}));
  ASSERT_TRUE(upper.has_value()) << upper.error().what();

  ASSERT_TRUE(enter_private_mount_namespace()) << std::strerror(errno);
  const fs::path merged = temp / "merged";
  fs::create_directory(merged);
  const std::string options = "lowerdir=" + root.string() + ":" + lower.string();
  ASSERT_EQ(::mount("overlay", merged.c_str(), "overlay", MS_RDONLY, options.c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(slurp(merged / "a/keep"), "keep");
  EXPECT_FALSE(fs::exists(merged / "a/gone"));
  EXPECT_FALSE(fs::exists(merged / "o/old"));
  EXPECT_EQ(slurp(merged / "o/new"), "new");
  EXPECT_EQ(::umount2(merged.c_str(), MNT_DETACH), 0);
}

TEST_F(LayerRootTest, OwnershipIsAppliedBeforeTheMode) {
  LayerOptions options;
  options.setid_bits = SetidPolicy::keep;
  auto stats = extract(make_layer({
                           owned(dir("home", 0750), 42, 43),
                           owned(file("home/su", "#!", 04755), 1234, 5678),
                           owned(symlink("home/link", "su"), 7, 8),
                       }),
                       options);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  // chown(2) clears setuid: applied after it, the mode survives.
  EXPECT_EQ(lstat_of("home/su").st_mode, S_IFREG | 04755);
  EXPECT_EQ(lstat_of("home/su").st_uid, 1234u);
  EXPECT_EQ(lstat_of("home/su").st_gid, 5678u);
  EXPECT_EQ(lstat_of("home").st_uid, 42u);
  EXPECT_EQ(lstat_of("home").st_gid, 43u);
  EXPECT_EQ(lstat_of("home").st_mode, S_IFDIR | 0750);
  EXPECT_EQ(lstat_of("home/link").st_uid, 7u);
  EXPECT_EQ(lstat_of("home/link").st_gid, 8u);
}

TEST_F(LayerRootTest, OwnershipIsSkippedOnRequest) {
  LayerOptions options;
  options.ownership = OwnershipPolicy::skip;
  auto stats = extract(make_layer({owned(file("f", "x"), 1234, 5678)}), options);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("f").st_uid, ::geteuid());
  EXPECT_EQ(lstat_of("f").st_gid, ::getegid());
}

TEST_F(LayerRootTest, IdThatChownWouldIgnoreIsRefused) {
  auto stats = extract(make_layer({owned(file("f", "x"), 4294967295, 0)}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'f': uid 4294967295 is out of range")) << stats.error().what();
}

TEST_F(LayerRootTest, DeviceNodesAreCreatedWhenAllowed) {
  LayerOptions options;
  options.device_nodes = DeviceNodePolicy::create;
  auto null = berth::testing::device(TarItem::Kind::char_device, "dev/null", 1, 3);
  null.mode = 0666;
  auto loop = berth::testing::device(TarItem::Kind::block_device, "dev/loop0", 7, 0);
  auto stats = extract(make_layer({null, owned(loop, 0, 6)}), options);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  struct stat st = lstat_of("dev/null");
  EXPECT_EQ(st.st_mode, S_IFCHR | 0666);
  EXPECT_EQ(st.st_rdev, ::makedev(1, 3));
  st = lstat_of("dev/loop0");
  EXPECT_EQ(st.st_mode, S_IFBLK | 0600);
  EXPECT_EQ(st.st_rdev, ::makedev(7, 0));
  EXPECT_EQ(st.st_gid, 6u);
  EXPECT_EQ(stats->device_nodes, 2u);
  EXPECT_EQ(stats->skipped_device_nodes, 0u);
}

TEST_F(LayerRootTest, DeviceNodesAreSkippedByDefaultEvenForRoot) {
  auto stats = extract(make_layer({berth::testing::device(TarItem::Kind::char_device, "dev/mem", 1, 1)}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "dev/mem")));
  EXPECT_EQ(stats->skipped_device_nodes, 1u);
}

}  // namespace
}  // namespace berth::fetcher
