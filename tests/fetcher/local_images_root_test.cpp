// Pulls from images on the local disk as the tools of the field write them:
// the OCI layout umoci builds the test images in, and the oci-archive and
// docker-archive tarballs `skopeo copy` makes of it. Each must unpack to the
// image's files, exactly as the same image pulled from a registry does.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "berth/fetcher/image_source.hpp"
#include "berth/fetcher/puller.hpp"
#include "overlay_rootfs.hpp"
#include "support/registry_shell.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"
#include "support/test_images.hpp"

namespace berth::fetcher {
namespace {

namespace fs = std::filesystem;
using berth::testing::TestImageLayout;
using ::testing::HasSubstr;

class LocalImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    layout_ = TestImageLayout::shared();
  }

  // A fresh store, so that every pull fetches every layer.
  Result<PulledImage> pull(const std::string& location, PullOptions options = {}) {
    auto store = ImageStore::open(dir_ / ("store-" + std::to_string(++stores_)));
    if (!store) return fail(std::move(store).error());
    store_.emplace(std::move(*store));
    auto client = RegistryClient::create();
    if (!client) return fail(std::move(client).error());
    BERTH_TRY(auto parsed, parse_image_location(location));
    return Puller(*store_, **client, options).pull(parsed);
  }

  void expect_image(const PulledImage& pulled, std::string_view tag) {
    const auto& config = layout_->config(tag);
    EXPECT_EQ(pulled.config.entrypoint, config.entrypoint);
    EXPECT_EQ(pulled.config.cmd, config.cmd);
    EXPECT_EQ(pulled.config.env, config.env);
    EXPECT_EQ(pulled.config.working_dir, config.working_dir);
    EXPECT_EQ(pulled.config.user, config.user);
    auto differences = berth::testing::rootfs_differences(pulled.layer_dirs, layout_->rootfs(tag), dir_.path());
    EXPECT_TRUE(differences.empty()) << ::testing::PrintToString(differences);
    EXPECT_TRUE(fs::is_empty(store_->root() / "layers/ingest"));
    EXPECT_TRUE(fs::is_empty(store_->root() / "blobs/ingest"));
  }

  std::string skopeo_copy(const std::string& to) {
    return berth::testing::run_tool(
        {"skopeo", "copy", "--quiet", "oci:" + layout_->dir().string() + ":layered", to});
  }

  std::shared_ptr<const TestImageLayout> layout_;
  berth::testing::TempDir dir_;
  std::optional<ImageStore> store_;
  int stores_ = 0;
};

TEST_F(LocalImagesTest, AnOciLayoutDirectoryUnpacksToTheImagesFiles) {
  auto name = "oci:" + layout_->dir().string() + ":layered";
  auto pulled = pull(name);
  ASSERT_TRUE(pulled) << pulled.error().what();
  EXPECT_EQ(pulled->record.reference, name);
  EXPECT_EQ(pulled->record.manifest_digest.str(), layout_->layout().tagged("layered").digest);
  EXPECT_EQ(pulled->stats.layers_fetched, static_cast<int>(pulled->record.layers.size()));
  expect_image(*pulled, "layered");
}

TEST_F(LocalImagesTest, AnIndexInALayoutGivesThisMachinesPlatform) {
  auto pulled = pull("oci:" + layout_->dir().string() + ":multiarch");
  ASSERT_TRUE(pulled) << pulled.error().what();
  expect_image(*pulled, "multiarch-amd64");
  auto arm = pull("oci:" + layout_->dir().string() + ":multiarch", {.platform = {"linux", "arm64", "v8"}});
  ASSERT_TRUE(arm) << arm.error().what();
  expect_image(*arm, "multiarch-arm64");
}

TEST_F(LocalImagesTest, AnOciArchiveFromSkopeoUnpacksToTheSameFiles) {
  auto archive = dir_ / "layered.tar";
  skopeo_copy("oci-archive:" + archive.string() + ":v1");
  auto pulled = pull("oci-archive:" + archive.string() + ":v1");
  ASSERT_TRUE(pulled) << pulled.error().what();
  EXPECT_EQ(pulled->record.manifest_digest.str(), layout_->layout().tagged("layered").digest)
      << "the same manifest as in the layout";
  expect_image(*pulled, "layered");
  auto wrong = pull("oci-archive:" + archive.string() + ":v2");
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().what(), HasSubstr("has no image named 'v2'; it has: v1"));
}

TEST_F(LocalImagesTest, ADockerArchiveFromSkopeoUnpacksToTheSameFiles) {
  auto archive = dir_ / "layered-docker.tar";
  skopeo_copy("docker-archive:" + archive.string() + ":berth/layered:1.0");
  auto pulled = pull("docker-archive:" + archive.string() + ":berth/layered:1.0");
  ASSERT_TRUE(pulled) << pulled.error().what();
  EXPECT_EQ(pulled->record.diff_ids.size(), pulled->record.layers.size());
  expect_image(*pulled, "layered");

  // The only image of the archive needs no name; a pull that finds every
  // layer already there fetches none.
  auto client = RegistryClient::create();
  ASSERT_TRUE(client);
  auto again = Puller(*store_, **client).pull(parse_image_location("docker-archive:" + archive.string()).value());
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->stats.layers_fetched, 0);
  EXPECT_EQ(again->record.layers, pulled->record.layers);
}

TEST_F(LocalImagesTest, ATruncatedArchiveFailsClearlyAndLeavesNothingPartial) {
  auto archive = dir_ / "layered-docker.tar";
  skopeo_copy("docker-archive:" + archive.string() + ":berth/layered:1.0");
  auto size = fs::file_size(archive);
  // Cut inside the last layer (the archive ends with it and manifest.json
  // comes first or last; cutting 40% away reaches layer data either way).
  fs::resize_file(archive, size * 6 / 10);
  auto pulled = pull("docker-archive:" + archive.string());
  ASSERT_FALSE(pulled);
  EXPECT_THAT(pulled.error().what(), HasSubstr(archive.string()));
  EXPECT_TRUE(fs::is_empty(store_->root() / "layers/ingest"));
  EXPECT_TRUE(fs::is_empty(store_->root() / "images")) << "no record of an image that did not pull";
}

}  // namespace
}  // namespace berth::fetcher
