#include "berth/fetcher/manifest.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace berth::fetcher {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string docker_manifest() {
  return fmt::format(R"({{"schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": "{}"}},
    "layers": [
      {{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2479, "digest": "{}"}},
      {{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 99, "digest": "{}"}}]}})",
                     kA, kB, kC);
}

std::string oci_index() {
  return fmt::format(R"({{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
      {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 500, "digest": "{}",
        "platform": {{"os": "linux", "architecture": "arm64", "variant": "v8"}}}},
      {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 501, "digest": "{}",
        "platform": {{"os": "linux", "architecture": "amd64"}}}},
      {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 502, "digest": "{}",
        "platform": {{"os": "windows", "architecture": "amd64"}}}}]}})",
                     kA, kB, kC);
}

TEST(Manifest, DockerSchema2HasItsConfigAndLayersBottomFirst) {
  auto parsed = parse_manifest("application/vnd.docker.distribution.manifest.v2+json", docker_manifest());
  ASSERT_TRUE(parsed) << parsed.error().what();
  ASSERT_TRUE(parsed->image.has_value());
  EXPECT_FALSE(parsed->index.has_value());
  EXPECT_EQ(parsed->image->media_type, media_type::kDockerManifest);
  EXPECT_EQ(parsed->image->config.digest.str(), kA);
  EXPECT_EQ(parsed->image->config.size, 1469u);
  ASSERT_EQ(parsed->image->layers.size(), 2u);
  EXPECT_EQ(parsed->image->layers[0].digest.str(), kB);
  EXPECT_EQ(parsed->image->layers[1].size, 99u);
  EXPECT_EQ(layer_compression(parsed->image->layers[0].media_type), LayerCompression::gzip);
}

TEST(Manifest, ContentTypeParametersAndAMissingOciMediaTypeAreFine) {
  auto body = fmt::format(R"({{"schemaVersion": 2,
    "config": {{"mediaType": "application/vnd.oci.image.config.v1+json", "size": 7, "digest": "{}"}},
    "layers": [{{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "size": 8, "digest": "{}"}}]}})",
                          kA, kB);
  auto served = parse_manifest("application/vnd.oci.image.manifest.v1+json; charset=utf-8", body);
  ASSERT_TRUE(served) << served.error().what();
  EXPECT_EQ(served->image->media_type, media_type::kOciManifest);
  auto generic = parse_manifest("application/json", body);
  ASSERT_TRUE(generic) << generic.error().what();
  EXPECT_EQ(generic->image->media_type, media_type::kOciManifest);
  EXPECT_EQ(layer_compression(generic->image->layers[0].media_type), LayerCompression::zstd);
}

TEST(Manifest, IndexSelectsThePlatform) {
  auto parsed = parse_manifest("application/vnd.oci.image.index.v1+json", oci_index());
  ASSERT_TRUE(parsed) << parsed.error().what();
  ASSERT_TRUE(parsed->index.has_value());
  ASSERT_EQ(parsed->index->manifests.size(), 3u);
  auto amd64 = select_platform(*parsed->index, {"linux", "amd64", ""});
  ASSERT_TRUE(amd64) << amd64.error().what();
  EXPECT_EQ(amd64->digest.str(), kB);
  auto arm64 = select_platform(*parsed->index, {"linux", "arm64", "v8"});
  ASSERT_TRUE(arm64);
  EXPECT_EQ(arm64->digest.str(), kA);
  auto arm64_any = select_platform(*parsed->index, {"linux", "arm64", ""});
  ASSERT_TRUE(arm64_any);
  EXPECT_EQ(arm64_any->digest.str(), kA);
  auto missing = select_platform(*parsed->index, {"linux", "s390x", ""});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "no image for platform linux/s390x in the index (it offers: linux/arm64/v8, linux/amd64, windows/amd64)");
}

TEST(Manifest, VariantPreferenceWhenNoneIsAsked) {
  auto body = fmt::format(R"({{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [
      {{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "{}",
        "platform": {{"os": "linux", "architecture": "arm", "variant": "v6"}}}},
      {{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "{}",
        "platform": {{"os": "linux", "architecture": "arm", "variant": "v7"}}}}]}})",
                          kA, kB);
  auto parsed = parse_manifest("application/vnd.docker.distribution.manifest.list.v2+json", body);
  ASSERT_TRUE(parsed) << parsed.error().what();
  auto v7 = select_platform(*parsed->index, {"linux", "arm", "v7"});
  ASSERT_TRUE(v7);
  EXPECT_EQ(v7->digest.str(), kB);
  auto any = select_platform(*parsed->index, {"linux", "arm", ""});
  ASSERT_TRUE(any);
  EXPECT_EQ(any->digest.str(), kA) << "the first when none is unqualified";
}

TEST(Manifest, BadDocumentsAreRefusedNamingWhatIsWrong) {
  auto error = [](std::string_view type, const std::string& body) {
    auto parsed = parse_manifest(type, body);
    return parsed ? std::string("parsed") : parsed.error().message();
  };
  EXPECT_EQ(error("application/json", "{"), "manifest: not JSON: incomplete JSON");
  EXPECT_EQ(error("application/json", R"({"schemaVersion": 1, "fsLayers": []})"),
            "manifest: Docker schema1 manifests are not supported (deprecated since 2017)");
  EXPECT_EQ(error(media_type::kOciIndex, docker_manifest()),
            "manifest: served as application/vnd.oci.image.index.v1+json but its mediaType is "
            "application/vnd.docker.distribution.manifest.v2+json");
  auto bad_digest = docker_manifest();
  bad_digest.replace(bad_digest.find(kB), kB.size(), "sha256:1234");
  EXPECT_NE(error(media_type::kDockerManifest, bad_digest).find("layers[0].digest"), std::string::npos)
      << error(media_type::kDockerManifest, bad_digest);
  auto negative = docker_manifest();
  negative.replace(negative.find("2479"), 4, "-1");
  EXPECT_EQ(error(media_type::kDockerManifest, negative),
            "manifest: layers[0]: \"size\" must be a non-negative integer");
  EXPECT_EQ(error("text/html", "{\"schemaVersion\": 2}"),
            "manifest: cannot tell what kind of manifest this is (Content-Type \"text/html\", no mediaType)");
  EXPECT_FALSE(layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2"));
}

TEST(Manifest, PlatformsParseAndPrint) {
  auto p = parse_platform("linux/arm64/v8");
  ASSERT_TRUE(p);
  EXPECT_EQ(to_string(*p), "linux/arm64/v8");
  EXPECT_FALSE(parse_platform("linux"));
  EXPECT_FALSE(parse_platform("linux//v8"));
  EXPECT_FALSE(parse_platform("a/b/c/d"));
  EXPECT_EQ(to_string(host_platform()), "linux/amd64");
  EXPECT_NE(manifest_accept_header().find(media_type::kOciIndex), std::string::npos);
}

}  // namespace
}  // namespace berth::fetcher
