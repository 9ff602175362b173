// Layers built to escape the directory they are extracted into. Each test
// asserts what happened inside the root and that the canary directory next
// to it is exactly as it was.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "berth/fetcher/layer_extractor.hpp"
#include "layer_archives.hpp"
#include "layer_test_fixture.hpp"

namespace berth::fetcher {
namespace {

using berth::testing::dir;
using berth::testing::file;
using berth::testing::hardlink;
using berth::testing::make_layer;
using berth::testing::slurp;
using berth::testing::symlink;

TEST_F(LayerTest, DotDotLeavingTheRootIsAnErrorNamingTheEntry) {
  auto stats = extract(make_layer({file("a/../../canary/secret", "pwned")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'a/../../canary/secret': path leaves the layer root"))
      << stats.error().what();
  expect_canary_untouched();
  EXPECT_TRUE(fs::is_empty(root));
}

TEST_F(LayerTest, DotDotThatStaysInsideIsAppliedLexically) {
  auto stats = extract(make_layer({file("a/../b", "b"), file("./c/./d/../e", "e")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "b"), "b");
  EXPECT_EQ(slurp(root / "c/e"), "e");
  EXPECT_FALSE(fs::exists(root / "a"));
}

TEST_F(LayerTest, AbsolutePathsAreTakenRelativeToTheRoot) {
  const std::string outside = (canary / "secret").string();
  auto stats = extract(make_layer({file(outside, "pwned"), file("/etc/hostname", "layer")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / outside.substr(1)), "pwned");
  EXPECT_EQ(slurp(root / "etc/hostname"), "layer");
  expect_canary_untouched();
}

TEST_F(LayerTest, SymlinksAreStoredVerbatim) {
  auto stats = extract(make_layer({symlink("abs", "/host/canary"), symlink("up", "../../.."),
                                   symlink("dangling", "nowhere/at/all")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(fs::read_symlink(root / "abs"), "/host/canary");
  EXPECT_EQ(fs::read_symlink(root / "up"), "../../..");
  EXPECT_EQ(fs::read_symlink(root / "dangling"), "nowhere/at/all");
}

TEST_F(LayerTest, AbsoluteSymlinkIsNotFollowedOutOfTheRoot) {
  auto stats = extract(make_layer({symlink("evil", canary.string()), file("evil/secret", "pwned"),
                                   file("evil/new", "pwned")}));
  // Inside the root, "evil" leads to <root><canary path>, which does not
  // exist: the write fails rather than landing anywhere else.
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'evil/secret'")) << stats.error().what();
  expect_canary_untouched();
  EXPECT_FALSE(fs::exists(canary / "new"));
}

TEST_F(LayerTest, AbsoluteSymlinkResolvesToTheSamePathInsideTheRoot) {
  const std::string inside = canary.string().substr(1);
  auto stats = extract(make_layer({dir(inside), symlink("evil", canary.string()), file("evil/secret", "contained")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / inside / "secret"), "contained");
  expect_canary_untouched();
}

// Escapes in these tests aim at the canary, so that a regression shows up
// there rather than somewhere on the host.
TEST_F(LayerTest, DotDotSymlinkIsClampedToTheRoot) {
  auto stats = extract(make_layer({symlink("up", ".."), file("up/canary/secret", "pwned"),
                                   symlink("sibling", "../canary"), file("sibling/new", "pwned")}));
  // "up" resolves to the root itself, so up/canary/secret is root/canary/secret;
  // "sibling" to root/canary, which by then exists.
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "canary/secret"), "pwned");
  EXPECT_EQ(slurp(root / "canary/new"), "pwned");
  EXPECT_TRUE(fs::is_symlink(root / "up"));
  expect_canary_untouched();
}

TEST_F(LayerTest, DirectorySwappedForASymlinkIsNotWrittenThrough) {
  auto stats = extract(make_layer({
      dir("d"),
      file("d/first", "inside"),
      symlink("d", canary.string()),
      file("d/secret", "pwned"),
  }));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'd/secret'")) << stats.error().what();
  EXPECT_TRUE(fs::is_symlink(root / "d"));
  expect_canary_untouched();
}

TEST_F(LayerTest, DirectorySwappedForASymlinkUpIsClampedToTheRoot) {
  auto stats = extract(make_layer({
      dir("d"),
      symlink("d", ".."),
      file("d/escaped", "contained"),
  }));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "escaped"), "contained");
  EXPECT_FALSE(fs::exists(temp / "escaped"));
  expect_canary_untouched();
}

// containerd's CVE-2021-32760: the directory's mode was applied at the end
// through the symlink that had replaced it.
TEST_F(LayerTest, DirectoryMetadataDoesNotFollowTheSymlinkThatReplacedIt) {
  auto stats = extract(make_layer({
      dir("d", 0777),
      file("d/x", "x"),
      symlink("d", canary.string()),
      dir("e", 0777),
      symlink("e", "../canary"),
      dir("a-target", 0700),
      dir("f", 0777),
      symlink("f", "a-target"),
  }));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_TRUE(fs::is_symlink(root / "d"));
  EXPECT_TRUE(fs::is_symlink(root / "f"));
  // Inside the root too: "f"'s mode is not passed on to what now stands there.
  EXPECT_EQ(lstat_of("a-target").st_mode, S_IFDIR | 0700);
  expect_canary_untouched();
}

TEST_F(LayerTest, FileOverASymlinkReplacesTheLinkNotItsTarget) {
  auto stats = extract(make_layer({symlink("f", (canary / "secret").string()), file("f", "replaced"),
                                   symlink("g", "../canary/secret"), file("g", "replaced")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("f").st_mode, S_IFREG | 0644);
  EXPECT_EQ(slurp(root / "f"), "replaced");
  EXPECT_EQ(slurp(root / "g"), "replaced");
  expect_canary_untouched();
}

TEST_F(LayerTest, DirectoryReplacingASymlinkDoesNotFollowIt) {
  auto stats = extract(make_layer({symlink("d", canary.string()), dir("d", 0700), file("d/inside", "x")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("d").st_mode, S_IFDIR | 0700);
  EXPECT_EQ(slurp(root / "d/inside"), "x");
  expect_canary_untouched();
}

TEST_F(LayerTest, FileReplacingADirectoryTreeDoesNotFollowSymlinksInIt) {
  auto stats = extract(make_layer({
      dir("tree"),
      symlink("tree/out", canary.string()),
      file("tree/sub/file", "x"),
      file("tree", "now a file"),
  }));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "tree"), "now a file");
  expect_canary_untouched();
}

TEST_F(LayerTest, HardlinkLeavingTheRootIsRefused) {
  auto stats = extract(make_layer({hardlink("stolen", "../canary/secret")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(),
                       "layer entry 'stolen': hardlink target '../canary/secret': path leaves the layer root"))
      << stats.error().what();
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "stolen")));
  expect_canary_untouched();
}

TEST_F(LayerTest, HardlinkThroughASymlinkOutOfTheRootIsRefused) {
  auto stats = extract(make_layer({symlink("evil", canary.string()), hardlink("stolen", "evil/secret")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'stolen': hardlink target 'evil/secret'")) << stats.error().what();
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "stolen")));
  // The canary's link count is in its snapshot: no new name was made for it.
  expect_canary_untouched();

  auto up = extract(make_layer({symlink("up", "../canary"), hardlink("stolen2", "up/secret")}));
  ASSERT_FALSE(up.has_value());
  EXPECT_TRUE(mentions(up.error(), "layer entry 'stolen2': hardlink target 'up/secret'")) << up.error().what();
  expect_canary_untouched();
}

TEST_F(LayerTest, HardlinkToADirectoryIsRefused) {
  auto stats = extract(make_layer({dir("d"), hardlink("alias", "d")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'alias': hardlink target 'd': is a directory"))
      << stats.error().what();

  auto to_root = extract(make_layer({hardlink("root-alias", "./")}));
  ASSERT_FALSE(to_root.has_value());
  EXPECT_TRUE(mentions(to_root.error(), "is a directory")) << to_root.error().what();
}

TEST_F(LayerTest, HardlinkToAMissingTargetIsRefused) {
  auto stats = extract(make_layer({hardlink("alias", "nothing/here")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'alias': hardlink target 'nothing/here'")) << stats.error().what();
}

TEST_F(LayerTest, HardlinkToASymlinkLinksTheSymlinkItself) {
  auto stats = extract(make_layer({symlink("s", (canary / "secret").string()), hardlink("h", "s")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_TRUE(fs::is_symlink(root / "h"));
  EXPECT_EQ(lstat_of("h").st_ino, lstat_of("s").st_ino);
  expect_canary_untouched();
}

TEST_F(LayerTest, HardlinkInsideTheRootThroughASymlinkIsAllowed) {
  auto stats = extract(make_layer({file("real/f", "data"), symlink("via", "/real"), hardlink("h", "via/f")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("h").st_ino, lstat_of("real/f").st_ino);
}

TEST_F(LayerTest, SymlinkLoopIsAnError) {
  auto stats = extract(make_layer({symlink("a", "b"), symlink("b", "a"), file("a/x", "x")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'a/x'")) << stats.error().what();
  expect_canary_untouched();
}

TEST_F(LayerTest, ProcSymlinksResolveInsideTheRoot) {
  // Inside the root, /proc/self/... is a path of the layer, not procfs:
  // followed on the host, this magic link would lead to the canary.
  const std::string magic = "/proc/self/fd/" + std::to_string(root_fd.get()) + "/../canary";
  auto stats = extract(make_layer({symlink("fd", magic), file("fd/secret", "pwned")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'fd/secret'")) << stats.error().what();
  expect_canary_untouched();
}

}  // namespace
}  // namespace berth::fetcher
