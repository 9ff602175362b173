// An image rootfs: the launcher mounts an overlay of read-only layers under a
// writable upper directory onto root.path inside the container's mount
// namespace (root). Whiteouts and opaque directories of upper layers hide
// what lower ones hold; writes land in the upper directory only; nothing is
// mounted on the host.

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <fstream>

#include "launcher/rootfs_test_util.hpp"

namespace berth::launcher {
namespace {

using testing::slurp;
using testing::TempDir;
namespace fs = std::filesystem;

class OverlayRootfsTest : public testing::RootfsLaunchTest {
 protected:
  void SetUp() override {
    RootfsLaunchTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto base = layers_.path() / "sha256/base";
    auto top = layers_.path() / "sha256/top";
    testing::build_busybox_rootfs(base);
    fs::create_directories(base / "data");
    fs::create_directories(base / "opaque");
    std::ofstream(base / "data/keep.txt") << "kept\n";
    std::ofstream(base / "data/remove-me.txt") << "removed\n";
    std::ofstream(base / "opaque/old.txt") << "old\n";
    fs::create_directories(top / "data");
    fs::create_directories(top / "opaque");
    std::ofstream(top / "top.txt") << "from the top layer\n";
    std::ofstream(top / "opaque/new.txt") << "new\n";
    // Overlayfs forms, as the fetcher unpacks OCI whiteouts.
    ASSERT_EQ(::mknod((top / "data/remove-me.txt").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
    ASSERT_EQ(::setxattr((top / "opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    fs::create_directories(scratch_.path() / "upper");
    fs::create_directories(scratch_.path() / "work");
  }

  LaunchRequest overlay_request(std::vector<std::string> args) {
    auto s = spec(std::move(args));
    s.root.path = mountpoint_.path();
    auto r = request(std::move(s));
    r.overlay = OverlayRootfs{layers_.path(), {"sha256/top", "sha256/base"}, scratch_.path() / "upper",
                              scratch_.path() / "work"};
    return r;
  }

  TempDir layers_;
  TempDir mountpoint_;
  TempDir scratch_;
};

TEST_F(OverlayRootfsTest, LayersStackWithWhiteoutsAndWritesGoToTheUpperDirectory) {
  fs::remove(sandbox_ / "stdout");
  auto launched = launcher_.launch(overlay_request(
      {"sh", "-c", "cat /top.txt; ls /data; ls /opaque; echo written > /data/new.txt; rm /data/keep.txt"}));
  ASSERT_TRUE(launched.has_value()) << launched.error().what();
  auto status = reap(launched->pidfd.get());
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0) << slurp(sandbox_ / "stderr");
  EXPECT_EQ(slurp(sandbox_ / "stdout"), "from the top layer\nkeep.txt\nnew.txt\n");
  // The writes: in the upper directory, the layers as they were.
  EXPECT_EQ(slurp(scratch_.path() / "upper/data/new.txt"), "written\n");
  EXPECT_TRUE(fs::exists(layers_.path() / "sha256/base/data/keep.txt"));
  EXPECT_FALSE(fs::exists(layers_.path() / "sha256/base/data/new.txt"));
  EXPECT_FALSE(fs::exists(layers_.path() / "sha256/top/data/new.txt"));
  // The mount point on the host stayed an empty directory.
  EXPECT_TRUE(fs::is_empty(mountpoint_.path()));
}

TEST_F(OverlayRootfsTest, BadOverlaysAreRefusedNamingWhatIsWrong) {
  auto error = [&](auto change) {
    auto r = overlay_request({"true"});
    change(r);
    auto launched = launcher_.launch(r);
    if (launched) {
      (void)reap(launched->pidfd.get());
      return std::string("launched");
    }
    return launched.error().what();
  };
  EXPECT_EQ(error([](LaunchRequest& r) { r.overlay->layers = {"sha256/a:b"}; }),
            "overlay: layer 'sha256/a:b' is not a plain path relative to layers_dir");
  EXPECT_EQ(error([](LaunchRequest& r) { r.overlay->layers = {"../../etc"}; }),
            "overlay: layer '../../etc' is not a plain path relative to layers_dir");
  EXPECT_EQ(error([](LaunchRequest& r) { r.overlay->layers.clear(); }), "overlay: no layers");
  EXPECT_EQ(error([](LaunchRequest& r) { r.overlay->attach_fds = {3}; }), "overlay: 1 trees to attach for 2 layers");
  EXPECT_EQ(error([](LaunchRequest& r) { r.overlay->upper = "upper"; }), "overlay: upper and work must be absolute paths");
  EXPECT_EQ(error([](LaunchRequest& r) { r.overlay->layers.assign(80, "sha256/" + std::string(64, 'a')); }),
            "overlay: 80 layers make " +
                std::to_string(std::string("lowerdir=").size() + 80 * 71 + 79 + std::string(",upperdir=").size() +
                               (scratch_.path() / "upper").string().size() + std::string(",workdir=").size() +
                               (scratch_.path() / "work").string().size()) +
                " bytes of mount options, more than the kernel's 4095");
  // A layer that is not there: the mount fails in the container and says where.
  auto missing = error([](LaunchRequest& r) { r.overlay->layers = {"sha256/none"}; });
  EXPECT_NE(missing.find("bind rootfs"), std::string::npos) << missing;
  EXPECT_NE(missing.find("No such file or directory"), std::string::npos) << missing;
}

}  // namespace
}  // namespace berth::launcher
