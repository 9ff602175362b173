// Image locations and the local image sources (OCI layout directories,
// oci-archive and docker-archive tarballs), on layouts and archives written
// here byte by byte, so every check a source makes can be made to fail.

#include "berth/fetcher/image_source.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <fstream>

#include "berth/fetcher/puller.hpp"
#include "layer_archives.hpp"
#include "support/temp_dir.hpp"

namespace berth::fetcher {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using berth::testing::TarItem;
using ::testing::HasSubstr;

void write_file(const fs::path& path, std::string_view data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string read_source_blob(ImageSource& source, const Descriptor& descriptor, Result<void>* result = nullptr) {
  std::string out;
  auto read = source.blob(descriptor, [&](std::string_view chunk) -> Result<void> {
    out.append(chunk);
    return {};
  });
  if (result != nullptr) *result = read;
  return out;
}

// One image as a layout holds it: its layer, config and manifest bytes.
struct BuiltImage {
  std::string layer;  // gzip
  std::string config;
  std::string manifest;
  Digest manifest_digest;
  Descriptor layer_descriptor;
};

BuiltImage build_image(const std::string& greeting) {
  BuiltImage image;
  image.layer = berth::testing::make_layer(
      {berth::testing::dir("etc"), berth::testing::file("etc/greeting", greeting)}, LayerCompression::gzip);
  auto tar = berth::testing::decompress(image.layer);
  image.config = json::serialize(json::object{
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", json::object{{"Cmd", json::array{"/bin/sh"}}}},
      {"rootfs", json::object{{"type", "layers"}, {"diff_ids", json::array{sha256_of(tar).str()}}}}});
  image.layer_descriptor = {std::string(media_type::kOciLayerGzip), sha256_of(image.layer), image.layer.size()};
  image.manifest = json::serialize(json::object{
      {"schemaVersion", 2},
      {"mediaType", media_type::kOciManifest},
      {"config", json::object{{"mediaType", media_type::kOciConfig},
                              {"digest", sha256_of(image.config).str()},
                              {"size", image.config.size()}}},
      {"layers", json::array{json::object{{"mediaType", media_type::kOciLayerGzip},
                                          {"digest", image.layer_descriptor.digest.str()},
                                          {"size", image.layer.size()}}}}});
  image.manifest_digest = sha256_of(image.manifest);
  return image;
}

// The files of an OCI layout holding `images` under their ref names.
std::vector<TarItem> layout_items(const std::vector<std::pair<std::string, BuiltImage>>& images) {
  std::vector<TarItem> items{berth::testing::file("oci-layout", R"({"imageLayoutVersion": "1.0.0"})"),
                             berth::testing::dir("blobs"), berth::testing::dir("blobs/sha256")};
  json::array manifests;
  auto blob = [&](const std::string& data) {
    items.push_back(berth::testing::file("blobs/sha256/" + sha256_of(data).hex, data));
  };
  for (const auto& [ref, image] : images) {
    blob(image.layer);
    blob(image.config);
    blob(image.manifest);
    manifests.push_back(json::object{{"mediaType", media_type::kOciManifest},
                                     {"digest", image.manifest_digest.str()},
                                     {"size", image.manifest.size()},
                                     {"annotations", json::object{{"org.opencontainers.image.ref.name", ref}}}});
  }
  items.push_back(berth::testing::file(
      "index.json", json::serialize(json::object{{"schemaVersion", 2}, {"manifests", std::move(manifests)}})));
  return items;
}

void write_items(const fs::path& dir, const std::vector<TarItem>& items) {
  for (const auto& item : items) {
    if (item.kind == TarItem::Kind::dir) fs::create_directories(dir / item.path);
    if (item.kind == TarItem::Kind::file) write_file(dir / item.path, item.data);
  }
}

Result<std::unique_ptr<ImageSource>> open_location(const std::string& text) {
  BERTH_TRY(auto location, parse_image_location(text));
  return open_local_source(std::get<LocalImage>(location));
}

TEST(ImageLocation, RegistryReferencesAndLocalTransportsParse) {
  auto hub = parse_image_location("busybox");
  ASSERT_TRUE(hub) << hub.error().what();
  EXPECT_EQ(to_string(*hub), "docker.io/library/busybox:latest");
  EXPECT_EQ(to_string(parse_image_location("docker://127.0.0.1:5000/app:1").value()), "127.0.0.1:5000/app:1");
  EXPECT_EQ(to_string(parse_image_location("oci:5000/app").value()), "oci:5000/app:latest")
      << "a registry on a host named oci";

  auto layout = parse_image_location("oci:/srv/images/app/../layout:1.0");
  ASSERT_TRUE(layout) << layout.error().what();
  EXPECT_EQ(std::get<LocalImage>(*layout), (LocalImage{LocalTransport::oci_layout, "/srv/images/layout", "1.0"}));
  EXPECT_EQ(to_string(*layout), "oci:/srv/images/layout:1.0");
  auto archive = parse_image_location("docker-archive:/tmp/saved.tar:busybox:latest");
  ASSERT_TRUE(archive) << archive.error().what();
  EXPECT_EQ(std::get<LocalImage>(*archive).ref, "busybox:latest");
  EXPECT_EQ(parse_image_location(to_string(*archive)).value(), *archive);
  EXPECT_EQ(std::get<LocalImage>(parse_image_location("oci-archive:/x.tar").value()).transport,
            LocalTransport::oci_archive);

  EXPECT_THAT(parse_image_location("oci-archive:images/x.tar").error().what(), HasSubstr("must be absolute"));
  EXPECT_THAT(parse_image_location("docker-archive:").error().what(), HasSubstr("no path"));
  EXPECT_THAT(parse_image_location("oci:/layout:").error().what(), HasSubstr("empty name"));
  EXPECT_FALSE(parse_image_location("Not An Image"));
}

class LocalSourceTest : public ::testing::Test {
 protected:
  BuiltImage one_ = build_image("one");
  BuiltImage two_ = build_image("two");
  berth::testing::TempDir dir_;
};

TEST_F(LocalSourceTest, AnOciLayoutServesTheImageItsRefNamesVerified) {
  write_items(dir_ / "layout", layout_items({{"1.0", one_}, {"2.0", two_}}));
  auto source = open_location("oci:" + (dir_ / "layout").string() + ":2.0");
  ASSERT_TRUE(source) << source.error().what();
  EXPECT_EQ((*source)->name(), "oci:" + (dir_ / "layout").string() + ":2.0");
  auto manifest = (*source)->manifest();
  ASSERT_TRUE(manifest) << manifest.error().what();
  EXPECT_EQ(manifest->digest, two_.manifest_digest);
  ASSERT_TRUE(manifest->parsed.image.has_value());
  EXPECT_EQ(manifest->media_type, media_type::kOciManifest);
  EXPECT_EQ(read_source_blob(**source, two_.layer_descriptor), two_.layer);

  auto unnamed = open_location("oci:" + (dir_ / "layout").string());
  EXPECT_THAT(unnamed.error().what(), HasSubstr("holds 2 images; name one after the path (:REF) from: 1.0, 2.0"));
  auto unknown = open_location("oci:" + (dir_ / "layout").string() + ":3.0");
  EXPECT_THAT(unknown.error().what(), HasSubstr("has no image named '3.0'; it has: 1.0, 2.0"));
}

TEST_F(LocalSourceTest, AnOciLayoutBlobThatWasChangedOrSwappedForALinkIsRefused) {
  write_items(dir_ / "layout", layout_items({{"latest", one_}}));
  auto source = open_location("oci:" + (dir_ / "layout").string());
  ASSERT_TRUE(source) << source.error().what();
  auto blob = dir_ / "layout/blobs/sha256" / one_.layer_descriptor.digest.hex;

  auto altered = one_.layer;
  altered[altered.size() / 2] ^= 1;
  write_file(blob, altered);
  Result<void> read;
  read_source_blob(**source, one_.layer_descriptor, &read);
  ASSERT_FALSE(read);
  EXPECT_THAT(read.error().what(), HasSubstr("content has digest"));

  write_file(blob, one_.layer + "more");
  read_source_blob(**source, one_.layer_descriptor, &read);
  ASSERT_FALSE(read);
  EXPECT_THAT(read.error().what(), HasSubstr("larger than"));

  // A blob that is a symlink to a host file is not followed.
  write_file(dir_ / "secret", one_.layer);
  fs::remove(blob);
  fs::create_symlink(dir_ / "secret", blob);
  std::string seen = read_source_blob(**source, one_.layer_descriptor, &read);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), ELOOP) << read.error().what();
  EXPECT_TRUE(seen.empty());
}

TEST_F(LocalSourceTest, WhatIsNotALayoutGetsAnErrorNamingIt) {
  fs::create_directories(dir_ / "empty");
  EXPECT_THAT(open_location("oci:" + (dir_ / "empty").string()).error().what(),
              HasSubstr("is not an OCI image layout (it has no oci-layout file)"));
  write_file(dir_ / "bad/oci-layout", R"({"imageLayoutVersion": "2.0.0"})");
  EXPECT_THAT(open_location("oci:" + (dir_ / "bad").string()).error().what(), HasSubstr("imageLayoutVersion"));
  write_file(dir_ / "bad/oci-layout", R"({"imageLayoutVersion": "1.0.0"})");
  write_file(dir_ / "bad/index.json", "{not json");
  EXPECT_THAT(open_location("oci:" + (dir_ / "bad").string()).error().what(), HasSubstr("index.json"));
  EXPECT_THAT(open_location("oci:" + (dir_ / "missing").string()).error().what(), HasSubstr("missing"));

  // An index entry whose manifest does not hash to its digest.
  write_items(dir_ / "tampered", layout_items({{"latest", one_}}));
  write_file(dir_ / "tampered/blobs/sha256" / one_.manifest_digest.hex, two_.manifest);
  auto tampered = open_location("oci:" + (dir_ / "tampered").string());
  ASSERT_TRUE(tampered) << tampered.error().what();
  EXPECT_THAT((*tampered)->manifest().error().what(), HasSubstr("content has digest " + two_.manifest_digest.str()));
}

TEST_F(LocalSourceTest, AnOciArchiveServesTheSameImages) {
  auto archive = dir_ / "image.tar";
  write_file(archive, berth::testing::make_layer(layout_items({{"1.0", one_}, {"2.0", two_}})));
  auto source = open_location("oci-archive:" + archive.string() + ":1.0");
  ASSERT_TRUE(source) << source.error().what();
  EXPECT_EQ((*source)->manifest().value().digest, one_.manifest_digest);
  EXPECT_EQ(read_source_blob(**source, one_.layer_descriptor), one_.layer);
  Descriptor config{std::string(media_type::kOciConfig), sha256_of(one_.config), one_.config.size()};
  EXPECT_EQ(read_source_blob(**source, config), one_.config);

  auto zstd = dir_ / "image.tar.zst";
  write_file(zstd, berth::testing::make_layer(layout_items({{"1.0", one_}}), LayerCompression::zstd));
  auto compressed = open_location("oci-archive:" + zstd.string());
  ASSERT_TRUE(compressed) << compressed.error().what();
  EXPECT_EQ(read_source_blob(**compressed, one_.layer_descriptor), one_.layer);

  Result<void> read;
  read_source_blob(**source, Descriptor{"x", sha256_of("absent"), 6}, &read);
  EXPECT_EQ(read.error().code(), ENOENT) << read.error().what();
  EXPECT_THAT(open_location("oci-archive:" + (dir_ / "none.tar").string()).error().what(), HasSubstr("none.tar"));
}

// What docker save writes: manifest.json, the config, one directory per
// layer; a layer shared with an image saved earlier is a symlink.
struct DockerArchive {
  std::string tar;
  std::vector<std::string> layer_tars;
};

DockerArchive docker_archive(bool gzip_second_layer = false, bool wrong_diff_id = false) {
  DockerArchive out;
  out.layer_tars = {berth::testing::make_layer({berth::testing::file("base", "base layer")}),
                    berth::testing::make_layer({berth::testing::file("top", "top layer")})};
  auto second = gzip_second_layer
                    ? berth::testing::make_layer({berth::testing::file("top", "top layer")}, LayerCompression::gzip)
                    : out.layer_tars[1];
  json::array diff_ids{sha256_of(out.layer_tars[0]).str(),
                       wrong_diff_id ? sha256_of("other").str() : sha256_of(berth::testing::decompress(second)).str()};
  auto config = json::serialize(json::object{
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", json::object{{"Entrypoint", json::array{"/top"}}}},
      {"rootfs", json::object{{"type", "layers"}, {"diff_ids", std::move(diff_ids)}}}});
  auto config_name = sha256_of(config).hex + ".json";
  auto manifest = json::serialize(json::array{
      json::object{{"Config", config_name},
                   {"RepoTags", json::array{"busybox:latest"}},
                   {"Layers", json::array{"aaa/layer.tar", "bbb/layer.tar"}}},
      json::object{{"Config", config_name},
                   {"RepoTags", json::array{"registry.local:5000/base:1"}},
                   {"Layers", json::array{"ccc/layer.tar", "bbb/layer.tar"}}}});
  out.tar = berth::testing::make_layer({
      berth::testing::dir("aaa"),
      berth::testing::file("aaa/layer.tar", out.layer_tars[0]),
      berth::testing::dir("bbb"),
      berth::testing::file("bbb/layer.tar", second),
      berth::testing::dir("ccc"),
      berth::testing::symlink("ccc/layer.tar", "../aaa/layer.tar"),
      berth::testing::file(config_name, config),
      berth::testing::file("manifest.json", manifest),
  });
  return out;
}

TEST_F(LocalSourceTest, ADockerArchiveGetsAManifestOfItsConfigAndLayers) {
  auto saved = docker_archive();
  write_file(dir_ / "saved.tar", saved.tar);
  // "busybox:latest" as written in RepoTags, or normalized.
  auto source = open_location("docker-archive:" + (dir_ / "saved.tar").string() + ":docker.io/library/busybox:latest");
  ASSERT_TRUE(source) << source.error().what();
  auto manifest = (*source)->manifest();
  ASSERT_TRUE(manifest) << manifest.error().what();
  EXPECT_EQ(manifest->digest, sha256_of(manifest->body));
  EXPECT_EQ((*source)->manifest(manifest->digest).value().body, manifest->body);
  const auto& image = *manifest->parsed.image;
  ASSERT_EQ(image.layers.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(image.layers[i].media_type, media_type::kOciLayer);
    EXPECT_EQ(image.layers[i].digest, sha256_of(saved.layer_tars[i])) << "an uncompressed layer's digest is its diff_id";
    EXPECT_EQ(read_source_blob(**source, image.layers[i]), saved.layer_tars[i]);
  }
  auto config = read_source_blob(**source, image.config);
  EXPECT_THAT(config, HasSubstr("/top"));

  // The second image reaches its first layer through a symlink.
  auto linked = open_location("docker-archive:" + (dir_ / "saved.tar").string() + ":registry.local:5000/base:1");
  ASSERT_TRUE(linked) << linked.error().what();
  auto base = (*linked)->manifest().value().parsed.image->layers.at(0);
  EXPECT_EQ(read_source_blob(**linked, base), saved.layer_tars[0]);

  auto unnamed = open_location("docker-archive:" + (dir_ / "saved.tar").string());
  EXPECT_THAT(unnamed.error().what(),
              HasSubstr("holds 2 images; name one after the path (:NAME:TAG) from: busybox:latest, "
                        "registry.local:5000/base:1"));
  EXPECT_THAT(open_location("docker-archive:" + (dir_ / "saved.tar").string() + ":alpine:3").error().what(),
              HasSubstr("no image tagged 'alpine:3'"));
}

TEST_F(LocalSourceTest, ACompressedDockerArchiveLayerIsHashedAndAWrongDiffIdIsCaught) {
  auto saved = docker_archive(/*gzip_second_layer=*/true);
  write_file(dir_ / "saved.tar", saved.tar);
  auto source = open_location("docker-archive:" + (dir_ / "saved.tar").string() + ":busybox:latest");
  ASSERT_TRUE(source) << source.error().what();
  auto top = (*source)->manifest().value().parsed.image->layers.at(1);
  EXPECT_EQ(top.media_type, media_type::kOciLayerGzip);
  EXPECT_NE(top.digest, sha256_of(saved.layer_tars[1]));

  auto wrong = docker_archive(false, /*wrong_diff_id=*/true);
  write_file(dir_ / "wrong.tar", wrong.tar);
  auto lying = open_location("docker-archive:" + (dir_ / "wrong.tar").string() + ":busybox:latest");
  ASSERT_TRUE(lying) << lying.error().what();
  Result<void> read;
  read_source_blob(**lying, (*lying)->manifest().value().parsed.image->layers.at(1), &read);
  ASSERT_FALSE(read);
  EXPECT_THAT(read.error().what(), HasSubstr("content has digest " + sha256_of(wrong.layer_tars[1]).str()));

  write_file(dir_ / "layout.tar", berth::testing::make_layer(layout_items({{"1", one_}})));
  EXPECT_THAT(open_location("docker-archive:" + (dir_ / "layout.tar").string()).error().what(),
              HasSubstr("is not a docker-archive (it has no manifest.json)"));
}

TEST_F(LocalSourceTest, APullFromALayoutFillsTheStoreAndIsFoundThereAfterwards) {
  write_items(dir_ / "layout", layout_items({{"1.0", one_}}));
  auto store = ImageStore::open(dir_ / "store");
  ASSERT_TRUE(store) << store.error().what();
  auto client = RegistryClient::create();
  ASSERT_TRUE(client) << client.error().what();
  Puller puller(*store, **client);
  auto name = "oci:" + (dir_ / "layout").string() + ":1.0";
  EXPECT_FALSE(puller.stored(name).value().has_value());

  auto pulled = puller.pull(parse_image_location(name).value());
  ASSERT_TRUE(pulled) << pulled.error().what();
  EXPECT_EQ(pulled->record.reference, name);
  EXPECT_EQ(pulled->record.manifest_digest, one_.manifest_digest);
  EXPECT_EQ(pulled->stats.layers_fetched, 1);
  ASSERT_EQ(pulled->layer_dirs.size(), 1u);
  std::ifstream greeting(pulled->layer_dirs[0] / "etc/greeting");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(greeting), {}), "one");
  EXPECT_EQ(pulled->config.cmd, std::vector<std::string>{"/bin/sh"});

  auto stored = puller.stored(name);
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ((*stored)->record.manifest_digest, one_.manifest_digest);
  EXPECT_EQ((*stored)->layer_dirs, pulled->layer_dirs);
  EXPECT_EQ((*stored)->config.cmd, pulled->config.cmd);
  // Without its layer the record no longer makes a usable image.
  fs::remove_all(pulled->layer_dirs[0]);
  EXPECT_FALSE(puller.stored(name).value().has_value());
}

TEST_F(LocalSourceTest, AnImageForAnotherPlatformIsRefused) {
  write_items(dir_ / "layout", layout_items({{"1.0", one_}}));
  auto store = ImageStore::open(dir_ / "store");
  ASSERT_TRUE(store) << store.error().what();
  auto client = RegistryClient::create();
  ASSERT_TRUE(client) << client.error().what();
  Puller puller(*store, **client, {.platform = {"linux", "arm64", "v8"}});
  auto pulled = puller.pull(parse_image_location("oci:" + (dir_ / "layout").string()).value());
  ASSERT_FALSE(pulled);
  EXPECT_THAT(pulled.error().what(), HasSubstr("the image is for linux/amd64, not linux/arm64/v8"));
  EXPECT_TRUE(fs::is_empty(dir_ / "store/layers/sha256"));
}

}  // namespace
}  // namespace berth::fetcher
