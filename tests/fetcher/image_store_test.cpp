#include "berth/fetcher/image_store.hpp"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <fstream>

#include "support/temp_dir.hpp"

namespace berth::fetcher {
namespace {

namespace fs = std::filesystem;

Digest digest_of(std::string_view text) { return sha256_of(text); }

// An unpacked layer whose directories are read-only, as image layers often are.
Result<void> add_layer(ImageStore& store, std::string_view name) {
  BERTH_TRY(auto layer, store.begin_layer());
  fs::create_directories(layer.path() / "etc");
  std::ofstream(layer.path() / "etc" / "name") << name;
  ::chmod((layer.path() / "etc").c_str(), 0555);
  return store.commit_layer(std::move(layer), digest_of(name));
}

ImageRecord record(std::string reference, std::vector<std::string> layers, std::string config) {
  ImageRecord r;
  r.reference = std::move(reference);
  r.manifest_digest = digest_of("manifest of " + r.reference);
  r.media_type = "application/vnd.oci.image.manifest.v1+json";
  r.config_digest = digest_of(config);
  for (const auto& layer : layers) {
    r.layers.push_back(digest_of(layer));
    r.diff_ids.push_back(digest_of("diff " + layer));
  }
  r.size = 123;
  r.pulled_at = 1700000000;
  return r;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ImageStore::open(dir_.path() / "store");
    ASSERT_TRUE(opened) << opened.error().what();
    store_.emplace(std::move(*opened));
  }
  berth::testing::TempDir dir_;
  std::optional<ImageStore> store_;
};

TEST_F(ImageStoreTest, CommittedLayersAppearWholeAndASecondCommitKeepsTheFirst) {
  ASSERT_TRUE(add_layer(*store_, "base"));
  EXPECT_TRUE(store_->has_layer(digest_of("base")));
  EXPECT_TRUE(fs::exists(store_->layer_path(digest_of("base")) / "etc/name"));
  ASSERT_TRUE(add_layer(*store_, "base")) << "the same layer committed twice";
  EXPECT_TRUE(fs::is_empty(store_->root() / "layers/ingest"));
  EXPECT_FALSE(store_->has_layer(digest_of("other")));
  EXPECT_TRUE(store_->layer_path(Digest{"sha256", "../../etc"}).empty());
}

TEST_F(ImageStoreTest, AnAbandonedIngestIsRemovedAndLeftoversGoWhenTheStoreOpens) {
  fs::path abandoned;
  {
    auto layer = store_->begin_layer();
    ASSERT_TRUE(layer);
    abandoned = layer->path();
    std::ofstream(abandoned / "half") << "x";
  }
  EXPECT_FALSE(fs::exists(abandoned));
  fs::create_directories(store_->root() / "layers/ingest/crashed/sub");
  ::chmod((store_->root() / "layers/ingest/crashed/sub").c_str(), 0500);
  auto reopened = ImageStore::open(store_->root());
  ASSERT_TRUE(reopened);
  EXPECT_TRUE(fs::is_empty(store_->root() / "layers/ingest"));
}

TEST_F(ImageStoreTest, ImageRecordsRoundTripAndList) {
  auto busybox = record("127.0.0.1:5000/busybox:1", {"base"}, "config-a");
  auto app = record("127.0.0.1:5000/app:2", {"base", "app"}, "config-b");
  ASSERT_TRUE(store_->put_image(busybox));
  ASSERT_TRUE(store_->put_image(app));
  auto found = store_->image(app.reference);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ(to_json(**found), to_json(app));
  auto missing = store_->image("127.0.0.1:5000/none:1");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  auto all = store_->images();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].reference, app.reference);
  auto removed = store_->remove_image("127.0.0.1:5000/none:1");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code(), ENOENT);
  EXPECT_FALSE(parse_image_record(R"({"reference": 1})"));
}

TEST_F(ImageStoreTest, PruneRemovesWhatNoImageOrRunningContainerUses) {
  for (const char* layer : {"base", "app", "old", "running"}) ASSERT_TRUE(add_layer(*store_, layer));
  auto app = record("r/app:1", {"base", "app"}, "config-app");
  ASSERT_TRUE(store_->put_image(app));
  ASSERT_TRUE(store_->blobs().put(app.config_digest, "config-app"));
  ASSERT_TRUE(store_->blobs().put(digest_of("stale config"), "stale config"));
  auto before = store_->disk_usage();
  ASSERT_TRUE(before);
  auto pruned = store_->prune({digest_of("running").str()});
  ASSERT_TRUE(pruned) << pruned.error().what();
  EXPECT_EQ(pruned->layers_removed, std::vector<std::string>{digest_of("old").str()});
  EXPECT_EQ(pruned->blobs_removed, std::vector<std::string>{digest_of("stale config").str()});
  EXPECT_GT(pruned->bytes_freed, 0u);
  for (const char* kept : {"base", "app", "running"}) EXPECT_TRUE(store_->has_layer(digest_of(kept))) << kept;
  EXPECT_FALSE(store_->has_layer(digest_of("old")));
  EXPECT_TRUE(store_->blobs().contains(app.config_digest));
  ASSERT_TRUE(store_->remove_image(app.reference));
  auto all = store_->prune();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->layers_removed.size(), 3u);
  EXPECT_TRUE(fs::is_empty(store_->root() / "layers/sha256"));
}

// Another ImageStore on the same root stands for another process sharing
// the store: flock locks belong to open files, so they keep two of them
// apart within one process just as across processes.
TEST_F(ImageStoreTest, OpeningTheStoreLeavesWhatALivePullHoldsAndRemovesTheRest) {
  auto in_progress = store_->begin_layer();
  ASSERT_TRUE(in_progress) << in_progress.error().what();
  std::ofstream(in_progress->path() / "half") << "x";
  auto blob = store_->blobs().begin(digest_of("blob"));
  ASSERT_TRUE(blob) << blob.error().what();
  ASSERT_TRUE(blob->write("bl"));
  fs::create_directories(store_->root() / "layers/ingest/crashed");
  std::ofstream(store_->root() / "blobs/ingest/sha256-crashed") << "x";

  auto other = ImageStore::open(store_->root());
  ASSERT_TRUE(other) << other.error().what();
  EXPECT_TRUE(fs::exists(in_progress->path() / "half"));
  EXPECT_FALSE(fs::exists(store_->root() / "layers/ingest/crashed"));
  EXPECT_FALSE(fs::exists(store_->root() / "blobs/ingest/sha256-crashed"));
  ASSERT_TRUE(blob->write("ob"));
  ASSERT_TRUE(blob->commit()) << "the other store left the blob being written alone";
  EXPECT_EQ(other->blobs().read(digest_of("blob")).value(), "blob");
  ASSERT_TRUE(store_->commit_layer(std::move(*in_progress), digest_of("half")));
  EXPECT_TRUE(other->has_layer(digest_of("half")));
}

TEST_F(ImageStoreTest, ALayerLockIsHeldByOnePullAtATimeAndItsFileGoesWithIt) {
  auto first = store_->lock_layer(digest_of("layer"));
  ASSERT_TRUE(first) << first.error().what();
  auto lock_file = store_->root() / "layers/locks" / ("sha256-" + digest_of("layer").hex);
  EXPECT_TRUE(fs::exists(lock_file));
  auto other = ImageStore::open(store_->root());
  ASSERT_TRUE(other);
  std::atomic<bool> second_locked{false};
  std::thread waiter([&] {
    auto second = other->lock_layer(digest_of("layer"));
    EXPECT_TRUE(second) << second.error().what();
    second_locked = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(second_locked) << "the second pull waits for the first";
  { auto released = std::move(*first); }
  waiter.join();
  EXPECT_TRUE(second_locked);
  EXPECT_FALSE(fs::exists(lock_file));
  EXPECT_TRUE(store_->lock_layer(digest_of("other layer")).has_value());
  EXPECT_FALSE(store_->lock_layer(Digest{"sha256", "../../x"}).has_value());
}

TEST_F(ImageStoreTest, PruneIsRefusedWhileAPullHoldsTheStore) {
  ASSERT_TRUE(add_layer(*store_, "unreferenced"));
  {
    auto pulling = store_->share_for_pull();
    ASSERT_TRUE(pulling) << pulling.error().what();
    auto also_pulling = store_->share_for_pull();
    ASSERT_TRUE(also_pulling) << "pulls share the store";
    auto refused = store_->prune();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), EBUSY);
    EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("an image pull is in progress"));
    EXPECT_TRUE(store_->has_layer(digest_of("unreferenced")));
  }
  auto pruned = store_->prune();
  ASSERT_TRUE(pruned) << pruned.error().what();
  EXPECT_EQ(pruned->layers_removed, std::vector<std::string>{digest_of("unreferenced").str()});
}

TEST(ImageStore, NeedsAnAbsolutePath) {
  auto relative = ImageStore::open("store");
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().message(), "image store: store is not an absolute path");
}

}  // namespace
}  // namespace berth::fetcher
