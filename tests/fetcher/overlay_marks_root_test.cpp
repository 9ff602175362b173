// Layers unpacked before their opaque directories carried user.overlay.opaque
// get it once, for overlays mounted with userxattr in user namespaces.

#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <filesystem>

#include "berth/fetcher/image_store.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"

namespace berth::fetcher {
namespace {

std::string xattr(const std::filesystem::path& path, const char* name) {
  char value[16] = {};
  auto n = ::lgetxattr(path.c_str(), name, value, sizeof value - 1);
  return n < 0 ? std::string("<none>") : std::string(value, static_cast<std::size_t>(n));
}

TEST(OverlayMarksRootTest, AnOlderLayerGetsUserOpaqueMarksOnce) {
  BERTH_REQUIRE_ROOT();
  berth::testing::TempDir dir;
  auto layer = dir.path() / "layer";
  std::filesystem::create_directories(layer / "opaque" / "inner");
  std::filesystem::create_directories(layer / "plain");
  ASSERT_EQ(::setxattr((layer / "opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);

  ASSERT_TRUE(ImageStore::ensure_user_overlay_marks(layer));
  EXPECT_EQ(xattr(layer / "opaque", "user.overlay.opaque"), "y");
  EXPECT_EQ(xattr(layer / "plain", "user.overlay.opaque"), "<none>");
  EXPECT_EQ(xattr(layer / "opaque" / "inner", "user.overlay.opaque"), "<none>");
  EXPECT_EQ(xattr(layer, "user.berth.overlay_marks"), "1");

  // Marked: it is not walked again.
  ASSERT_EQ(::removexattr((layer / "opaque").c_str(), "user.overlay.opaque"), 0);
  ASSERT_TRUE(ImageStore::ensure_user_overlay_marks(layer));
  EXPECT_EQ(xattr(layer / "opaque", "user.overlay.opaque"), "<none>");
}

}  // namespace
}  // namespace berth::fetcher
