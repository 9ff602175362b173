#include "berth/fetcher/layer_extractor.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "layer_archives.hpp"
#include "layer_test_fixture.hpp"

namespace berth::fetcher {
namespace {

using berth::testing::chunked_source;
using berth::testing::decompress;
using berth::testing::dir;
using berth::testing::file;
using berth::testing::hardlink;
using berth::testing::make_layer;
using berth::testing::slurp;
using berth::testing::symlink;
using berth::testing::TarFormat;
using berth::testing::TarItem;
using berth::testing::zeros;

TarItem with_mtime(TarItem item, std::time_t seconds, long nanoseconds = 0) {
  item.mtime = seconds;
  item.mtime_nsec = nanoseconds;
  return item;
}

// A bit of everything, every directory listed, so that two extractions
// give identical trees.
std::vector<TarItem> sample_items() {
  return {
      with_mtime(dir("./", 0755), 1'500'000'000),
      with_mtime(dir("etc", 0755), 1'500'000'001),
      with_mtime(file("etc/hostname", "berth\n", 0644), 1'500'000'002, 123'456'789),
      with_mtime(file("etc/shadow", "root:*:\n", 0600), 1'500'000'003),
      with_mtime(dir("usr", 0755), 1'500'000'004),
      with_mtime(dir("usr/bin", 0711), 1'500'000'005),
      with_mtime(file("usr/bin/tool", std::string(300'000, 'x'), 0755), 1'500'000'006),
      with_mtime(hardlink("usr/bin/tool-alias", "usr/bin/tool"), 1'500'000'007),
      with_mtime(symlink("bin", "usr/bin"), 1'500'000'008),
      with_mtime(symlink("etc/absolute", "/etc/hostname"), 1'500'000'009),
      with_mtime(dir("empty", 0700), 1'500'000'010),
  };
}

void expect_sample_tree(const fs::path& root) {
  EXPECT_EQ(slurp(root / "etc/hostname"), "berth\n");
  EXPECT_EQ(slurp(root / "etc/shadow"), "root:*:\n");
  EXPECT_EQ(slurp(root / "usr/bin/tool"), std::string(300'000, 'x'));
  EXPECT_EQ(fs::read_symlink(root / "bin"), "usr/bin");
  EXPECT_EQ(fs::read_symlink(root / "etc/absolute"), "/etc/hostname");

  struct stat st {};
  ASSERT_EQ(::lstat((root / "etc/hostname").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0644);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'002);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123'456'789);
  ASSERT_EQ(::lstat((root / "etc/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
  ASSERT_EQ(::lstat((root / "usr/bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0711);
  // Written into after its header: the mtime is applied at the end.
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'005);
  ASSERT_EQ(::lstat((root / "empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0700);
  ASSERT_EQ(::lstat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  ASSERT_EQ(::lstat((root / "bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'008);

  struct stat tool {}, alias {};
  ASSERT_EQ(::lstat((root / "usr/bin/tool").c_str(), &tool), 0);
  ASSERT_EQ(::lstat((root / "usr/bin/tool-alias").c_str(), &alias), 0);
  EXPECT_EQ(tool.st_ino, alias.st_ino);
  EXPECT_EQ(tool.st_nlink, 2u);
  EXPECT_EQ(tool.st_mode, S_IFREG | 0755);
  EXPECT_EQ(tool.st_mtim.tv_sec, 1'500'000'006);
}

class LayerRoundTripTest : public LayerTest, public ::testing::WithParamInterface<LayerCompression> {};

TEST_P(LayerRoundTripTest, ExtractsFilesDirectoriesLinksModesAndTimes) {
  const std::string layer = make_layer(sample_items(), GetParam());
  auto stats = extract(layer);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();

  expect_sample_tree(root);
  EXPECT_EQ(stats->compression, GetParam());
  EXPECT_EQ(stats->entries, 11u);
  EXPECT_EQ(stats->regular_files, 3u);
  EXPECT_EQ(stats->directories, 5u);
  EXPECT_EQ(stats->symlinks, 2u);
  EXPECT_EQ(stats->hardlinks, 1u);
  EXPECT_EQ(stats->bytes_written, 6u + 8u + 300'000u);
  EXPECT_EQ(stats->compressed_digest, sha256_of(layer));
  EXPECT_EQ(stats->diff_id, sha256_of(GetParam() == LayerCompression::none ? layer : decompress(layer)));
  expect_canary_untouched();
}

TEST_P(LayerRoundTripTest, SevenByteChunksGiveTheSameTreeAndDigests) {
  const std::string layer = make_layer(sample_items(), GetParam());
  auto whole = extract(layer);
  ASSERT_TRUE(whole.has_value()) << whole.error().what();

  const fs::path other = temp / "chunked";
  UniqueFd other_fd = make_root(other);
  std::size_t taken = 0;
  auto chunked = extract_layer(other_fd.get(), chunked_source(layer, 7, &taken));
  ASSERT_TRUE(chunked.has_value()) << chunked.error().what();

  EXPECT_EQ(taken, layer.size());
  EXPECT_EQ(snapshot(other), snapshot(root));
  EXPECT_EQ(chunked->compressed_digest, whole->compressed_digest);
  EXPECT_EQ(chunked->diff_id, whole->diff_id);
  EXPECT_EQ(chunked->bytes_written, whole->bytes_written);
}

TEST_P(LayerRoundTripTest, SourceErrorMidStreamIsReturned) {
  const std::string layer = make_layer(sample_items(), GetParam());
  std::size_t served = 0;
  LayerSource failing = [&]() -> Result<std::string_view> {
    if (served >= layer.size() / 2) return fail(Error("connection reset by registry"));
    std::string_view chunk = std::string_view(layer).substr(served, 512);
    served += chunk.size();
    return chunk;
  };
  auto stats = extract_layer(root_fd.get(), std::move(failing));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "connection reset by registry")) << stats.error().what();
  EXPECT_FALSE(mentions(stats.error(), "libarchive")) << stats.error().what();
}

TEST_P(LayerRoundTripTest, TruncatedLayerFails) {
  const std::string layer = make_layer(sample_items(), GetParam());
  auto stats = extract(layer.substr(0, layer.size() / 2));
  ASSERT_FALSE(stats.has_value());
  EXPECT_FALSE(stats.error().what().empty());
}

INSTANTIATE_TEST_SUITE_P(Compressions, LayerRoundTripTest,
                         ::testing::Values(LayerCompression::none, LayerCompression::gzip, LayerCompression::zstd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

class LayerFormatTest : public LayerTest, public ::testing::WithParamInterface<TarFormat> {};

TEST_P(LayerFormatTest, ReadsLongNamesAndLinks) {
  const std::string deep = std::string(60, 'd') + "/" + std::string(60, 'e') + "/" + std::string(20, 'f');
  // ustar has room for 100 bytes of link target, the others for any.
  const std::string target = std::string(45, 't') + "/" + std::string(50, 'u');
  const std::string layer = make_layer({file(deep, "deep"), file(target, "target"), hardlink("short", target),
                                        symlink("link", std::string(90, 'x'))},
                                       LayerCompression::gzip, GetParam());
  auto stats = extract(layer);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / deep), "deep");
  EXPECT_EQ(lstat_of("short").st_ino, lstat_of(target).st_ino);
  EXPECT_EQ(fs::read_symlink(root / "link"), std::string(90, 'x'));
}

INSTANTIATE_TEST_SUITE_P(Formats, LayerFormatTest,
                         ::testing::Values(TarFormat::pax, TarFormat::gnu, TarFormat::ustar),
                         [](const auto& info) {
                           switch (info.param) {
                             case TarFormat::pax:
                               return std::string("pax");
                             case TarFormat::gnu:
                               return std::string("gnu");
                             case TarFormat::ustar:
                               return std::string("ustar");
                           }
                           return std::string("unknown");
                         });

TEST_F(LayerTest, FdSourceReadsTheLayerFromAFile) {
  const std::string layer = make_layer(sample_items(), LayerCompression::gzip);
  berth::testing::write_text(temp / "layer.tar.gz", layer);
  UniqueFd fd(::open((temp / "layer.tar.gz").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  auto stats = extract_layer(root_fd.get(), fd_source(fd.get(), 4096));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  expect_sample_tree(root);
  EXPECT_EQ(stats->compressed_digest, sha256_of(layer));
}

TEST_F(LayerTest, BytesAfterTheCompressedStreamAreInTheDigest) {
  const std::string layer = make_layer(sample_items(), LayerCompression::gzip) + std::string(100, '\0');
  auto stats = extract(layer);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(stats->compressed_digest, sha256_of(layer));
  EXPECT_EQ(stats->diff_id, sha256_of(decompress(layer)));
}

TEST_F(LayerTest, EmptyTarIsAnEmptyLayer) {
  auto stats = extract(make_layer({}, LayerCompression::gzip));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(stats->entries, 0u);
  EXPECT_TRUE(fs::is_empty(root));
}

TEST_F(LayerTest, RefusesWhatIsNotALayer) {
  auto empty = extract("");
  ASSERT_FALSE(empty.has_value());
  EXPECT_TRUE(mentions(empty.error(), "layer is empty")) << empty.error().what();

  auto garbage = extract(std::string(4096, 'g'));
  ASSERT_FALSE(garbage.has_value());
  EXPECT_TRUE(mentions(garbage.error(), "not a tar archive")) << garbage.error().what();

  auto xz = extract(std::string("\xfd" "7zXZ\0", 6) + std::string(100, 'x'));
  ASSERT_FALSE(xz.has_value());
  EXPECT_TRUE(mentions(xz.error(), "compressed with xz")) << xz.error().what();
  EXPECT_TRUE(fs::is_empty(root));
}

TEST_F(LayerTest, MissingParentsAreCreatedWhateverTheUmask) {
  mode_t old_umask = ::umask(077);
  auto stats = extract(make_layer({file("a/b/c.txt", "c", 0644)}));
  ::umask(old_umask);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "a/b/c.txt"), "c");
  EXPECT_EQ(lstat_of("a").st_mode, S_IFDIR | 0755);
  EXPECT_EQ(lstat_of("a/b").st_mode, S_IFDIR | 0755);
  EXPECT_EQ(lstat_of("a/b/c.txt").st_mode, S_IFREG | 0644);
}

TEST_F(LayerTest, ReadOnlyDirectoryStillReceivesItsChildren) {
  auto stats = extract(make_layer({dir("ro", 0555), file("ro/inside", "x", 0444), dir("ro/sub", 0500),
                                   file("ro/sub/deeper", "y", 0400)}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("ro").st_mode, S_IFDIR | 0555);
  EXPECT_EQ(lstat_of("ro/sub").st_mode, S_IFDIR | 0500);
  EXPECT_EQ(lstat_of("ro/sub/deeper").st_mode, S_IFREG | 0400);
  // TempDir must be able to clean up as a non-root user too.
  fs::permissions(root / "ro", fs::perms::owner_all);
  fs::permissions(root / "ro/sub", fs::perms::owner_all);
}

TEST_F(LayerTest, NonAsciiNamesRoundTrip) {
  auto stats = extract(make_layer({file("caf\xc3\xa9/na\xc3\xafve.txt", "utf-8")}, LayerCompression::gzip));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "caf\xc3\xa9/na\xc3\xafve.txt"), "utf-8");
}

TEST_F(LayerTest, LaterEntriesReplaceEarlierOnes) {
  auto stats = extract(make_layer({
      file("same", "first"),
      file("same", "second", 0600),
      dir("tree"),
      file("tree/a/b/c", "deep"),
      file("tree", "a file now"),
      file("becomes-dir", "a file first"),
      dir("becomes-dir", 0750),
      file("becomes-dir/child", "child"),
  }));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "same"), "second");
  EXPECT_EQ(lstat_of("same").st_mode, S_IFREG | 0600);
  EXPECT_EQ(slurp(root / "tree"), "a file now");
  EXPECT_EQ(lstat_of("becomes-dir").st_mode, S_IFDIR | 0750);
  EXPECT_EQ(slurp(root / "becomes-dir/child"), "child");
}

TEST_F(LayerTest, DirectoryOverDirectoryUpdatesOnlyItsMetadata) {
  auto stats = extract(make_layer({
      dir("d", 0755),
      file("d/kept", "kept"),
      with_mtime(dir("d", 0750), 1'234'567'890),
  }));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(slurp(root / "d/kept"), "kept");
  EXPECT_EQ(lstat_of("d").st_mode, S_IFDIR | 0750);
  EXPECT_EQ(lstat_of("d").st_mtim.tv_sec, 1'234'567'890);
}

TEST_F(LayerTest, RootEntryUpdatesTheRootDirectory) {
  auto stats = extract(make_layer({dir("./", 0750), file("./a", "a")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("").st_mode, S_IFDIR | 0750);
  EXPECT_EQ(slurp(root / "a"), "a");

  auto file_as_root = extract(make_layer({file(".", "not a directory")}));
  ASSERT_FALSE(file_as_root.has_value());
  EXPECT_TRUE(mentions(file_as_root.error(), "only a directory can name the layer root"))
      << file_as_root.error().what();
}

TEST_F(LayerTest, SetidBitsAreStrippedByDefault) {
  auto stats = extract(make_layer({file("su", "#!", 04755), file("sg", "#!", 02755), dir("shared", 02775)}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("su").st_mode, S_IFREG | 0755);
  EXPECT_EQ(lstat_of("sg").st_mode, S_IFREG | 0755);
  // setgid on a directory only passes its group on; it is no privilege.
  EXPECT_EQ(lstat_of("shared").st_mode, S_IFDIR | 02775);
}

TEST_F(LayerTest, SetidBitsAreKeptOnRequest) {
  LayerOptions options;
  options.setid_bits = SetidPolicy::keep;
  auto stats = extract(make_layer({file("su", "#!", 04755), file("sg", "#!", 02711)}), options);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("su").st_mode, S_IFREG | 04755);
  EXPECT_EQ(lstat_of("sg").st_mode, S_IFREG | 02711);
}

TEST_F(LayerTest, SetidBitsFailTheLayerWhenRejected) {
  LayerOptions options;
  options.setid_bits = SetidPolicy::reject;
  auto ok = extract(make_layer({dir("shared", 02775), file("plain", "x", 0755)}), options);
  ASSERT_TRUE(ok.has_value()) << ok.error().what();

  auto stats = extract(make_layer({file("usr/bin/su", "#!", 04755)}), options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'usr/bin/su': setuid/setgid bits (mode 4755) refused by policy"))
      << stats.error().what();
}

TEST_F(LayerTest, DeviceNodesAreSkippedAndCountedByDefault) {
  auto stats = extract(make_layer({
      berth::testing::device(TarItem::Kind::char_device, "dev/null", 1, 3),
      berth::testing::device(TarItem::Kind::block_device, "dev/sda", 8, 0),
      berth::testing::device(TarItem::Kind::fifo, "run/pipe", 0, 0),
      file("dev/regular", "r"),
  }));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(stats->skipped_device_nodes, 3u);
  EXPECT_EQ(stats->device_nodes, 0u);
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "dev/null")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "dev/sda")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "run/pipe")));
  EXPECT_EQ(slurp(root / "dev/regular"), "r");
}

TEST_F(LayerTest, DeviceNodesFailTheLayerWhenRejected) {
  LayerOptions options;
  options.device_nodes = DeviceNodePolicy::reject;
  auto stats = extract(make_layer({berth::testing::device(TarItem::Kind::char_device, "dev/mem", 1, 1)}), options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'dev/mem': device nodes and FIFOs are refused by policy"))
      << stats.error().what();
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "dev/mem")));
}

TEST_F(LayerTest, FifosAreCreatedWhenAllowedWithoutPrivilege) {
  LayerOptions options;
  options.device_nodes = DeviceNodePolicy::create;
  auto pipe = berth::testing::device(TarItem::Kind::fifo, "run/pipe", 0, 0);
  pipe.mode = 0620;
  auto stats = extract(make_layer({pipe}), options);
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(lstat_of("run/pipe").st_mode, S_IFIFO | 0620);
  EXPECT_EQ(stats->device_nodes, 1u);
}

TEST_F(LayerTest, FileLargerThanTheLimitIsRefusedBeforeItIsWritten) {
  LayerOptions options;
  options.limits.max_file_bytes = 1000;
  auto stats = extract(make_layer({file("small", std::string(1000, 's')), file("big", std::string(1001, 'b'))}),
                       options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'big'")) << stats.error().what();
  EXPECT_TRUE(mentions(stats.error(), "max_file_bytes")) << stats.error().what();
  EXPECT_EQ(slurp(root / "small"), std::string(1000, 's'));
  EXPECT_FALSE(fs::exists(root / "big"));
}

TEST_F(LayerTest, TotalBytesLimitStopsTheLayer) {
  LayerOptions options;
  options.limits.max_total_bytes = 2500;
  auto stats = extract(make_layer({file("a", std::string(1000, 'a')), file("b", std::string(1000, 'b')),
                                   file("c", std::string(1000, 'c'))}),
                       options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'c'")) << stats.error().what();
  EXPECT_TRUE(mentions(stats.error(), "max_total_bytes")) << stats.error().what();
  EXPECT_FALSE(fs::exists(root / "c"));
}

TEST_F(LayerTest, EntryCountLimitNamesTheEntryBeyondIt) {
  LayerOptions options;
  options.limits.max_entries = 3;
  auto stats = extract(make_layer({file("1", ""), file("2", ""), file("3", ""), file("4", "")}), options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry '4': more than 3 entries (max_entries)")) << stats.error().what();
  EXPECT_FALSE(fs::exists(root / "4"));
}

TEST_F(LayerTest, PathLengthLimitCoversNamesAndLinkTargets) {
  LayerOptions options;
  options.limits.max_path_length = 50;
  auto long_name = extract(make_layer({file(std::string(51, 'n'), "")}), options);
  ASSERT_FALSE(long_name.has_value());
  EXPECT_TRUE(mentions(long_name.error(), "max_path_length")) << long_name.error().what();

  auto long_target = extract(make_layer({symlink("l", std::string(51, 't'))}), options);
  ASSERT_FALSE(long_target.has_value());
  EXPECT_TRUE(mentions(long_target.error(), "layer entry 'l'")) << long_target.error().what();
  EXPECT_TRUE(mentions(long_target.error(), "max_path_length")) << long_target.error().what();
}

TEST_F(LayerTest, TarStreamLimitCoversBytesThatAreNeverWritten) {
  LayerOptions options;
  options.limits.max_tar_bytes = 64 * 1024;
  // Device nodes are skipped, but the stream that carries them still counts.
  std::vector<TarItem> items;
  for (int i = 0; i < 500; ++i) {
    items.push_back(berth::testing::device(TarItem::Kind::fifo, "p" + std::to_string(i), 0, 0));
  }
  auto stats = extract(make_layer(items, LayerCompression::gzip), options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "max_tar_bytes")) << stats.error().what();
}

class LayerBombTest : public LayerTest, public ::testing::WithParamInterface<LayerCompression> {};

TEST_P(LayerBombTest, StopsAtTheHeaderWithoutInflatingTheRest) {
  const std::uint64_t inflated = std::uint64_t{256} << 20;
  const std::string bomb = make_layer({file("readme", "hello"), zeros("bomb", inflated)}, GetParam());
  ASSERT_LT(bomb.size(), inflated / 200);

  LayerOptions options;
  options.limits.max_file_bytes = 1 << 20;
  std::size_t taken = 0;
  auto stats = extract_layer(root_fd.get(), chunked_source(bomb, 64, &taken), options);
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry 'bomb'")) << stats.error().what();
  EXPECT_TRUE(mentions(stats.error(), "max_file_bytes")) << stats.error().what();
  EXPECT_EQ(slurp(root / "readme"), "hello");
  EXPECT_FALSE(fs::exists(root / "bomb"));
  EXPECT_LT(taken, bomb.size() / 10) << "read " << taken << " of " << bomb.size() << " compressed bytes";
}

INSTANTIATE_TEST_SUITE_P(Compressions, LayerBombTest,
                         ::testing::Values(LayerCompression::gzip, LayerCompression::zstd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_F(LayerTest, AufsBookkeepingIsIgnored) {
  auto stats = extract(make_layer({file(".wh..wh.aufs", ""), dir(".wh..wh.plnk"), file("real", "r")}));
  ASSERT_TRUE(stats.has_value()) << stats.error().what();
  EXPECT_EQ(stats->whiteouts, 0u);
  EXPECT_EQ(snapshot(root).size(), 2u);
  EXPECT_EQ(slurp(root / "real"), "r");
}

TEST_F(LayerTest, WhiteoutNamingNothingIsAnError) {
  auto stats = extract(make_layer({file(".wh..", "")}));
  ASSERT_FALSE(stats.has_value());
  EXPECT_TRUE(mentions(stats.error(), "layer entry '.wh..': whiteout names no file")) << stats.error().what();
}

TEST_F(LayerTest, ControlCharactersInNamesAreEscapedInErrors) {
  auto stats = extract(make_layer({file("../\n\x1b[31mforged", "x")}));
  ASSERT_FALSE(stats.has_value());
  const std::string text = stats.error().what();
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_TRUE(mentions(stats.error(), "layer entry '../\\x0a\\x1b[31mforged': path leaves the layer root")) << text;

  // The same name as a parent directory reaches the error as a path too.
  auto parent = extract(make_layer({symlink("evil\nline", "/nowhere"), file("evil\nline/file", "x")}));
  ASSERT_FALSE(parent.has_value());
  const std::string parent_text = parent.error().what();
  EXPECT_EQ(parent_text.find('\n'), std::string::npos) << parent_text;
  EXPECT_TRUE(mentions(parent.error(), "'evil\\x0aline'")) << parent_text;
}

}  // namespace
}  // namespace berth::fetcher
