// Tests of the registry harness itself (tests/support/registry*, test_images*):
// that the registry, its auth variants, the fault injection and the pushed test
// images are what the fetcher tests take them to be.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <sstream>
#include <tuple>

#include "support/blob_storage_server.hpp"
#include "support/process.hpp"
#include "support/registry.hpp"
#include "support/registry_fault_proxy.hpp"
#include "support/registry_shell.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string manifest_path(const TestImage& image) { return "/v2/" + image.repository + "/manifests/" + image.tag; }

std::string accept_any_manifest() {
  return "Accept: " + std::string(kOciManifest) + ", " + std::string(kOciIndex) + ", " + std::string(kDockerManifest) +
         ", " + std::string(kDockerManifestList);
}

// curl to an arbitrary URL: for what TestRegistry::request deliberately does not do.
RunResult curl(std::vector<std::string> args) {
  args.insert(args.begin(), {tool("curl").string(), "-sS", "--noproxy", "*", "--max-time", "30"});
  return run(args, 40s);
}

std::vector<std::string> tar_listing(const fs::path& layer, std::string_view compression_flag) {
  std::vector<std::string> entries;
  std::istringstream lines(run_tool({"tar", std::string(compression_flag), "-tf", layer.string()}));
  for (std::string line; std::getline(lines, line);) entries.push_back(line);
  return entries;
}

TEST(RegistryHarness, ServesV2AndKeepsContentAcrossStopAndStart) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry;
  EXPECT_EQ(registry.get("/v2/").status, 200) << registry.log();
  EXPECT_EQ(registry.address(), "127.0.0.1:" + std::to_string(registry.port()));
  TestImages images(registry);
  auto image = images.busybox(ManifestFormat::oci);

  registry.stop();
  EXPECT_FALSE(registry.running());
  EXPECT_EQ(registry.get("/v2/").status, 0) << "a stopped registry still answers";

  registry.start();
  auto reply = registry.get(manifest_path(image), Caller::authorized, {accept_any_manifest()});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Docker-Content-Digest"), image.manifest_digest);

  registry.stop(SIGKILL);
  registry.start();
  EXPECT_EQ(images.describe("busybox", "oci").manifest_digest, image.manifest_digest);
  EXPECT_THAT(registry.log(), HasSubstr("listening on 127.0.0.1:" + std::to_string(registry.port())));
}

TEST(RegistryHarness, TlsRegistryIsTrustedWithTheTestCaOnly) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry({.transport = RegistryTransport::https});
  EXPECT_EQ(registry.url(), "https://" + registry.address());
  EXPECT_TRUE(fs::exists(registry.ca_file()));
  EXPECT_TRUE(fs::exists(registry.cert_dir() / "ca.crt"));
  EXPECT_EQ(registry.get("/v2/").status, 200) << registry.log();

  auto untrusted = curl({"-o", "/dev/null", registry.url() + "/v2/"});
  EXPECT_EQ(untrusted.exit_code, 60) << "curl trusted the server without the test CA: " << untrusted.err;
  // The certificate names DNS:localhost too.
  auto by_name = curl({"-o", "/dev/null", "-w", "%{http_code}", "--cacert", registry.ca_file().string(),
                       "https://localhost:" + std::to_string(registry.port()) + "/v2/"});
  EXPECT_EQ(by_name.out, "200") << by_name.err;
}

TEST(RegistryHarness, BasicAuthChallengesAnonymousAndAcceptsTheTestUser) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry({.auth = RegistryAuth::basic});
  EXPECT_EQ(registry.transport(), RegistryTransport::https) << "docker-registry allows htpasswd over TLS only";
  TestImages images(registry);
  auto image = images.busybox(ManifestFormat::docker);
  auto target = manifest_path(image);

  auto anonymous = registry.get(target, Caller::anonymous, {accept_any_manifest()});
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("WWW-Authenticate"), "Basic realm=\"berth-test-registry\"");

  auto wrong = BasicCredentials{registry.credentials().user, "not-the-password"};
  EXPECT_EQ(registry.get(target, Caller::anonymous, {"Authorization: " + wrong.header()}).status, 401);

  auto authorized = registry.get(target, Caller::authorized, {accept_any_manifest()});
  EXPECT_EQ(authorized.status, 200);
  EXPECT_EQ(authorized.header("Content-Type"), kDockerManifest);
}

TEST(RegistryHarness, TokenAuthChallengesWithTheRealmAndAcceptsIssuedTokens) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry({.auth = RegistryAuth::token});
  auto& tokens = *registry.token_server();
  TestImages images(registry);
  auto image = images.busybox(ManifestFormat::oci);
  EXPECT_GE(tokens.tokens_issued(), 1) << "skopeo pushed without a token";
  tokens.reset_counters();
  auto target = manifest_path(image);

  auto anonymous = registry.get(target, Caller::anonymous, {accept_any_manifest()});
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("WWW-Authenticate"),
            "Bearer realm=\"" + tokens.realm() + "\",service=\"berth-test-registry\",scope=\"repository:busybox:pull\"");

  // What a client does with the challenge.
  auto token_reply = curl({tokens.realm() + "?service=berth-test-registry&scope=repository%3Abusybox%3Apull"});
  ASSERT_EQ(token_reply.exit_code, 0) << token_reply.err;
  auto token = json::parse(token_reply.out).at("token").as_string();
  EXPECT_EQ(tokens.tokens_issued(), 1);
  EXPECT_THAT(tokens.scopes_requested(), ElementsAre("repository:busybox:pull"));
  auto with_token =
      registry.get(target, Caller::anonymous, {accept_any_manifest(), "Authorization: Bearer " + std::string(token)});
  EXPECT_EQ(with_token.status, 200) << with_token.body << registry.log();
  EXPECT_EQ(with_token.header("Docker-Content-Digest"), image.manifest_digest);

  auto untrusted = tokens.mint_untrusted({{"repository", "busybox", {"pull"}}});
  EXPECT_EQ(registry.get(target, Caller::anonymous, {"Authorization: Bearer " + untrusted}).status, 401);
  auto elsewhere = tokens.mint({{"repository", "other", {"pull"}}});
  EXPECT_EQ(registry.get(target, Caller::anonymous, {"Authorization: Bearer " + elsewhere}).status, 401);
}

TEST(RegistryHarness, TokenServerWithLoginRefusesAnonymousTokenRequests) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry({.auth = RegistryAuth::token_login});
  auto& tokens = *registry.token_server();
  TestImages images(registry);
  auto image = images.busybox(ManifestFormat::oci);
  tokens.reset_counters();
  auto realm = tokens.realm() + "?service=berth-test-registry&scope=repository:busybox:pull";

  auto refused = curl({"-o", "/dev/null", "-D", "-", realm});
  EXPECT_THAT(refused.out, HasSubstr("401"));
  EXPECT_THAT(refused.out, HasSubstr("Basic realm="));
  EXPECT_EQ(tokens.requests_refused(), 1);

  auto login = registry.credentials();
  auto granted = curl({"-u", login.user + ":" + login.password, realm});
  ASSERT_EQ(granted.exit_code, 0) << granted.err;
  std::string token(json::parse(granted.out).at("token").as_string());
  EXPECT_EQ(tokens.tokens_issued(), 1);
  EXPECT_EQ(registry.get(manifest_path(image), Caller::anonymous, {accept_any_manifest(), "Authorization: Bearer " + token})
                .status,
            200);
}

TEST(RegistryHarness, DamagedBlobsAreServedUnderTheirDigest) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry;
  TestImages images(registry);
  auto image = images.busybox(ManifestFormat::oci);
  auto layer = image.layers.at(0);
  TempDir scratch;

  registry.corrupt_blob(layer.digest);
  auto reply = registry.download_blob("busybox", layer.digest, scratch / "layer");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Docker-Content-Digest"), layer.digest);
  EXPECT_EQ(fs::file_size(scratch / "layer"), layer.size);
  EXPECT_NE(sha256_of_file(scratch / "layer"), layer.digest);

  registry.overwrite_blob(layer.digest, "not a layer");
  EXPECT_EQ(registry.get("/v2/busybox/blobs/" + layer.digest).body, "not a layer");

  registry.remove_blob(layer.digest);
  EXPECT_EQ(registry.get("/v2/busybox/blobs/" + layer.digest).status, 404);
}

TEST(RegistryHarness, FaultProxyCutsFailsAndSlowsBlobDownloads) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry;
  TestImages images(registry);
  auto layer = images.busybox(ManifestFormat::oci).layers.at(0);
  RegistryFaultProxy proxy(registry.port());
  TempDir scratch;
  auto blob_url = "http://" + proxy.address() + "/v2/busybox/blobs/" + layer.digest;
  auto download = [&] { return curl({"-o", (scratch / "blob").string(), "-w", "%{http_code}", blob_url}); };

  proxy.cut_blob_downloads(1000);
  auto cut = download();
  EXPECT_EQ(cut.exit_code, 18) << "curl should report a partial transfer: " << cut.err;
  EXPECT_EQ(fs::file_size(scratch / "blob"), 1000u);

  auto whole = download();
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(sha256_of_file(scratch / "blob"), layer.digest);

  proxy.fail_blob_downloads(503);
  EXPECT_EQ(download().out, "503");
  EXPECT_EQ(proxy.blob_downloads_seen(), 3);
  EXPECT_EQ(proxy.faults_injected(), 2);

  proxy.limit_rate(4 << 20);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(download().out, "200");
  auto expected = std::chrono::milliseconds(layer.size * 1000 / (4 << 20));
  EXPECT_GE(std::chrono::steady_clock::now() - started, expected * 9 / 10);
}

TEST(RegistryHarness, FaultProxyRedirectsBlobDownloadsToStorageThatSeesAnyAuthorization) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry;
  TestImages images(registry);
  auto layer = images.busybox(ManifestFormat::oci).layers.at(0);
  RegistryFaultProxy proxy(registry.port());
  BlobStorageServer storage([&](std::string_view digest) { return registry.blob_data_path(digest); });
  proxy.redirect_blob_downloads(storage.url());
  TempDir scratch;
  auto blob_url = "http://" + proxy.address() + "/v2/busybox/blobs/" + layer.digest;
  auto download = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"-L", "-o", (scratch / "blob").string(), "-w", "%{http_code} %{num_redirects}",
                                  "-H", "Authorization: Bearer berth-test-token"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(blob_url);
    return curl(args);
  };

  // curl drops the header on the way to another host; with --location-trusted it leaks it, and the storage tells.
  auto careful = download({});
  EXPECT_EQ(careful.out, "200 1") << careful.err;
  EXPECT_EQ(sha256_of_file(scratch / "blob"), layer.digest);
  auto leaky = download({"--location-trusted"});
  EXPECT_EQ(leaky.out, "200 1") << leaky.err;
  auto resumed = download({"-r", "1000-"});
  EXPECT_EQ(resumed.out, "206 1") << resumed.err;
  EXPECT_EQ(fs::file_size(scratch / "blob"), layer.size - 1000);

  auto requests = storage.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_FALSE(requests[0].authorization);
  EXPECT_TRUE(requests[1].authorization);
  EXPECT_EQ(requests[0].digest, layer.digest);
  EXPECT_THAT(requests[0].target, HasSubstr("X-Amz-Signature="));
  EXPECT_EQ(proxy.redirects_sent(), 3);
  EXPECT_EQ(proxy.redirected_with_authorization(), 3);

  proxy.clear_faults();
  EXPECT_EQ(download({}).out, "200 0") << "no longer redirected";
}

// One registry with every test image, shared by the tests that only read it.
class RegistryHarnessImages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root()) return;
    try {
      registry_ = std::make_unique<TestRegistry>();
      images_ = std::make_unique<TestImages>(*registry_);
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    images_.reset();
    registry_.reset();
  }
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    ASSERT_TRUE(images_) << "the shared registry did not start: " << setup_error_;
  }

  json::object served_config(const TestImage& image) {
    auto reply = registry_->get("/v2/" + image.repository + "/blobs/" + image.config_digest);
    EXPECT_EQ(reply.status, 200);
    return json::parse(reply.body).as_object();
  }

  static std::unique_ptr<TestRegistry> registry_;
  static std::unique_ptr<TestImages> images_;
  static std::string setup_error_;
};
std::unique_ptr<TestRegistry> RegistryHarnessImages::registry_;
std::unique_ptr<TestImages> RegistryHarnessImages::images_;
std::string RegistryHarnessImages::setup_error_;

std::vector<std::string> strings(const json::value* array) {
  std::vector<std::string> out;
  if (array && array->is_array()) {
    for (const auto& item : array->as_array()) out.emplace_back(item.as_string());
  }
  return out;
}

TEST_F(RegistryHarnessImages, PushedManifestsHaveTheExpectedMediaTypes) {
  struct Case {
    ManifestFormat format;
    std::string_view manifest_type;
    std::string_view config_type;
    std::string_view layer_type;
  };
  for (auto [format, manifest_type, config_type, layer_type] :
       {Case{ManifestFormat::docker, kDockerManifest, kDockerConfig, kDockerLayerGzip},
        Case{ManifestFormat::oci, kOciManifest, kOciConfig, kOciLayerGzip}}) {
    for (const TestImage* image : {&images_->busybox(format), &images_->layered(format)}) {
      SCOPED_TRACE(image->reference());
      EXPECT_EQ(image->media_type, manifest_type);
      auto manifest = json::parse(image->manifest).as_object();
      // umoci writes OCI manifests without the (then optional) mediaType field: Content-Type tells.
      if (format == ManifestFormat::docker || manifest.contains("mediaType")) {
        EXPECT_EQ(manifest.at("mediaType").as_string(), manifest_type);
      }
      EXPECT_EQ(manifest.at("config").at("mediaType").as_string(), config_type);
      EXPECT_EQ(image->layers.size(), image->repository == "busybox" ? 1u : 4u);
      for (const auto& layer : image->layers) EXPECT_EQ(layer.media_type, layer_type);

      auto config = served_config(*image);
      const auto& run = config.at("config").as_object();
      EXPECT_EQ(config.at("architecture").as_string(), image->config.architecture);
      EXPECT_EQ(config.at("os").as_string(), image->config.os);
      EXPECT_EQ(strings(run.if_contains("Entrypoint")), image->config.entrypoint);
      EXPECT_EQ(strings(run.if_contains("Cmd")), image->config.cmd);
      EXPECT_EQ(strings(run.if_contains("Env")), image->config.env);
      EXPECT_EQ(run.at("WorkingDir").as_string(), image->config.working_dir);
      EXPECT_EQ(run.at("User").as_string(), image->config.user);
      EXPECT_TRUE(run.at("ExposedPorts").as_object().contains("8080/tcp"));
      EXPECT_EQ(config.at("rootfs").at("diff_ids").as_array().size(), image->layers.size());
    }
  }
  // Both formats carry the very same layer blobs.
  EXPECT_EQ(images_->layered(ManifestFormat::docker).layer_digests(), images_->layered(ManifestFormat::oci).layer_digests());
  EXPECT_EQ(images_->layered(ManifestFormat::oci).layers.front().digest,
            images_->busybox(ManifestFormat::oci).layers.front().digest);
}

TEST_F(RegistryHarnessImages, MultiArchIndexListsTwoPlatforms) {
  for (auto [format, index_type, manifest_type] :
       {std::tuple{ManifestFormat::docker, kDockerManifestList, kDockerManifest},
        std::tuple{ManifestFormat::oci, kOciIndex, kOciManifest}}) {
    const auto& index = images_->multi_arch(format);
    SCOPED_TRACE(index.reference());
    EXPECT_EQ(index.media_type, index_type);
    auto served = json::parse(index.manifest).as_object();
    EXPECT_EQ(served.at("mediaType").as_string(), index_type);
    const auto& entries = served.at("manifests").as_array();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].at("platform").at("architecture").as_string(), "amd64");
    EXPECT_EQ(entries[1].at("platform").at("architecture").as_string(), "arm64");
    EXPECT_EQ(entries[1].at("platform").at("variant").as_string(), "v8");
    for (const auto& platform : index.platforms) {
      EXPECT_EQ(platform.media_type, manifest_type);
      EXPECT_EQ(served_config(platform).at("architecture").as_string(), platform.config.architecture);
    }
    EXPECT_NE(index.platform("amd64").layers.back().digest, index.platform("arm64").layers.back().digest);
  }
}

TEST_F(RegistryHarnessImages, LayeredImageHasWhiteoutAndOpaqueEntries) {
  const auto& image = images_->layered(ManifestFormat::oci);
  TempDir scratch;
  std::vector<std::vector<std::string>> listings;
  for (std::size_t i = 0; i < image.layers.size(); ++i) {
    auto file = scratch / ("layer-" + std::to_string(i) + ".tar.gz");
    ASSERT_EQ(registry_->download_blob("layered", image.layers[i].digest, file).status, 200);
    EXPECT_EQ(sha256_of_file(file), image.layers[i].digest);
    listings.push_back(tar_listing(file, "-z"));
    // A complete tar: whole 512-byte records ending in the two zero records.
    run_tool({"gzip", "-dk", file.string()});
    auto plain = read_file(scratch / ("layer-" + std::to_string(i) + ".tar"));
    EXPECT_EQ(plain.size() % 512, 0u) << "layer " << i;
    EXPECT_EQ(plain.substr(plain.size() - 1024), std::string(1024, '\0')) << "layer " << i << " is unterminated";
  }
  EXPECT_THAT(listings.at(2), Contains("data/.wh.remove-me.txt"));
  EXPECT_THAT(listings.at(3), Contains("opaque/.wh..wh..opq"));
  EXPECT_THAT(listings.at(3), Contains("opaque/new.txt"));
}

TEST_F(RegistryHarnessImages, ExpectedRootfsMatchesWhatUmociUnpacks) {
  TempDir scratch;
  const auto& layout = images_->layout();
  for (std::string tag : {"busybox", "layered", "multiarch-arm64"}) {
    SCOPED_TRACE(tag);
    auto bundle = scratch / tag;
    run_tool({"umoci", "unpack", "--image", layout.dir().string() + ":" + tag, bundle.string()});
    EXPECT_THAT(compare_rootfs(bundle / "rootfs", layout.rootfs(tag)), IsEmpty());
  }
  // The comparison does notice a wrong tree.
  auto layered = scratch / "layered/rootfs";
  write_text(layered / "opaque/old-a.txt", "back");
  EXPECT_THAT(compare_rootfs(layered, layout.rootfs("layered")),
              ElementsAre("/opaque/old-a.txt: present, but a whiteout deleted it", "/opaque/old-a.txt: not expected"));
}

TEST_F(RegistryHarnessImages, LargeImagesHaveIncompressibleLayersOfTheRequestedSize) {
  TempDir scratch;
  for (auto [compression, format, tag, layer_type, tar_flag] :
       {std::tuple{LayerCompression::zstd, ManifestFormat::oci, "zstd", kOciLayerZstd, "--zstd"},
        std::tuple{LayerCompression::gzip, ManifestFormat::docker, "gzip", kDockerLayerGzip, "-z"}}) {
    LargeImageRequest request{
        .repository = "large", .tag = tag, .total_bytes = 3 << 20, .layers = 3, .compression = compression, .format = format};
    auto image = images_->large(request);
    SCOPED_TRACE(image.reference());
    ASSERT_EQ(image.layers.size(), 3u);
    std::uint64_t stored = 0;
    for (const auto& layer : image.layers) {
      EXPECT_EQ(layer.media_type, layer_type);
      stored += layer.size;
    }
    EXPECT_GT(stored, request.total_bytes) << "the data compressed: it is not random";
    ASSERT_EQ(image.rootfs.present.size(), 4u);  // /large and one file per layer
    EXPECT_EQ(image.rootfs.present[3].size, 1u << 20);

    auto file = scratch / "last-layer";
    ASSERT_EQ(registry_->download_blob("large", image.layers.back().digest, file).status, 200);
    EXPECT_THAT(tar_listing(file, tar_flag), ElementsAre("large/", "large/layer-2.bin"));
  }
}

}  // namespace
}  // namespace berth::testing
