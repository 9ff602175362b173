// The puller against a real registry (Debian's docker-registry on loopback)
// serving images built offline with umoci and skopeo: every manifest format,
// platform selection, layer sharing, authentication, TLS, blobs redirected to
// storage on another host, and what happens
// when the registry lies or goes away. The unpacked layers are checked by
// mounting them as the overlay a container gets and comparing its files with
// what the image holds.

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "berth/fetcher/puller.hpp"
#include "overlay_rootfs.hpp"
#include "support/blob_storage_server.hpp"
#include "support/registry.hpp"
#include "support/registry_fault_proxy.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"
#include "support/test_images.hpp"

namespace berth::fetcher {
namespace {

namespace fs = std::filesystem;
using berth::testing::ManifestFormat;
using berth::testing::RegistryAuth;
using berth::testing::RegistryTransport;
using berth::testing::TestImage;
using berth::testing::TestImages;
using berth::testing::TestRegistry;

bool mentions(const Error& error, std::string_view text) { return error.what().find(text) != std::string::npos; }

ImageReference reference_of(const std::string& text) {
  auto parsed = parse_image_reference(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(ImageReference{});
}

class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    auto store = ImageStore::open(dir_.path() / "store");
    ASSERT_TRUE(store.has_value()) << store.error().what();
    store_.emplace(std::move(*store));
  }

  std::unique_ptr<RegistryClient> client_for(const TestRegistry& registry, RegistryOptions options = {}) {
    if (registry.transport() == RegistryTransport::http) options.insecure_registries.push_back(registry.address());
    options.backoff = std::chrono::milliseconds(20);
    auto client = RegistryClient::create(options);
    EXPECT_TRUE(client.has_value()) << client.error().what();
    return client ? std::move(*client) : nullptr;
  }

  // A Docker config.json holding the registry's test user.
  fs::path docker_config(const TestRegistry& registry) {
    auto path = dir_.path() / "docker-config.json";
    std::ofstream(path) << R"({"auths": {")" << registry.address() << R"(": {"auth": ")"
                        << base64_encode(registry.credentials().user + ":" + registry.credentials().password)
                        << R"("}}})";
    return path;
  }

  void expect_pulled(const PulledImage& pulled, const TestImage& image) {
    EXPECT_EQ(pulled.record.manifest_digest.str(), image.manifest_digest);
    EXPECT_EQ(pulled.record.config_digest.str(), image.config_digest);
    std::vector<std::string> layers;
    for (const auto& layer : pulled.record.layers) layers.push_back(layer.str());
    EXPECT_EQ(layers, image.layer_digests());
    EXPECT_EQ(pulled.config.entrypoint, image.config.entrypoint);
    EXPECT_EQ(pulled.config.cmd, image.config.cmd);
    EXPECT_EQ(pulled.config.env, image.config.env);
    EXPECT_EQ(pulled.config.working_dir, image.config.working_dir);
    EXPECT_EQ(pulled.config.user, image.config.user);
    auto ports = pulled.config.exposed_ports;
    auto expected_ports = image.config.exposed_ports;
    std::ranges::sort(ports);
    std::ranges::sort(expected_ports);
    EXPECT_EQ(ports, expected_ports);
    auto differences = berth::testing::rootfs_differences(pulled.layer_dirs, image.rootfs, dir_.path());
    EXPECT_TRUE(differences.empty()) << ::testing::PrintToString(differences);
    auto record = store_->image(pulled.record.reference);
    ASSERT_TRUE(record.has_value() && record->has_value());
    EXPECT_EQ(to_json(**record), to_json(pulled.record));
  }

  // `image` through `proxy`, with a client that does not retry: a cut download stays cut.
  struct ThroughProxy {
    ImageReference reference;
    std::unique_ptr<RegistryClient> client;
  };
  ThroughProxy through(const TestRegistry& registry, const berth::testing::RegistryFaultProxy& proxy,
                       const TestImage& image) {
    RegistryOptions once{.insecure_registries = {proxy.address()}, .attempts = 1};
    return {reference_of(proxy.address() + "/" + image.repository + ":" + image.tag), client_for(registry, once)};
  }

  void expect_nothing_partial() {
    EXPECT_TRUE(fs::is_empty(store_->root() / "layers/ingest"));
    EXPECT_TRUE(!fs::exists(store_->root() / "blobs/ingest") || fs::is_empty(store_->root() / "blobs/ingest"));
  }

  berth::testing::TempDir dir_;
  std::optional<ImageStore> store_;
};

TEST_F(PullerTest, EveryManifestFormatUnpacksToTheImagesFiles) {
  TestRegistry registry;
  TestImages images(registry);
  auto client = client_for(registry);
  Puller puller(*store_, *client);
  for (auto format : {ManifestFormat::oci, ManifestFormat::docker}) {
    for (const auto* image : {&images.busybox(format), &images.layered(format)}) {
      SCOPED_TRACE(image->reference());
      auto pulled = puller.pull(reference_of(image->reference()));
      ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
      expect_pulled(*pulled, *image);
    }
  }
  expect_nothing_partial();
}

TEST_F(PullerTest, ByDigestAndFromAnIndexForEachPlatform) {
  TestRegistry registry;
  TestImages images(registry);
  auto client = client_for(registry);
  const auto& busybox = images.busybox(ManifestFormat::oci);
  Puller puller(*store_, *client);
  auto by_digest = puller.pull(reference_of(busybox.digest_reference()));
  ASSERT_TRUE(by_digest.has_value()) << by_digest.error().what();
  EXPECT_EQ(by_digest->record.manifest_digest.str(), busybox.manifest_digest);

  for (auto format : {ManifestFormat::oci, ManifestFormat::docker}) {
    const auto& index = images.multi_arch(format);
    ASSERT_TRUE(index.is_index());
    for (const char* arch : {"amd64", "arm64"}) {
      SCOPED_TRACE(index.reference() + " " + arch);
      Puller for_arch(*store_, *client, {.platform = {"linux", arch, ""}});
      auto pulled = for_arch.pull(reference_of(index.reference()));
      ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
      EXPECT_EQ(pulled->record.manifest_digest.str(), index.platform(arch).manifest_digest);
      EXPECT_EQ(pulled->config.architecture, arch);
    }
    Puller s390x(*store_, *client, {.platform = {"linux", "s390x", ""}});
    auto none = s390x.pull(reference_of(index.reference()));
    ASSERT_FALSE(none.has_value());
    EXPECT_TRUE(mentions(none.error(), "no image for platform linux/s390x")) << none.error().what();
    EXPECT_TRUE(mentions(none.error(), "linux/arm64")) << none.error().what();
  }
}

TEST_F(PullerTest, LayersAreSharedAndConcurrentPullsFetchEachOnce) {
  TestRegistry registry;
  TestImages images(registry);
  const auto& layered = images.layered(ManifestFormat::oci);
  const auto& busybox = images.busybox(ManifestFormat::oci);
  auto client = client_for(registry);
  Puller puller(*store_, *client);
  std::vector<Result<PulledImage>> results(4, fail("not run"));
  {
    std::vector<std::jthread> threads;
    for (auto& result : results) {
      threads.emplace_back([&] { result = puller.pull(reference_of(layered.reference())); });
    }
  }
  int fetched = 0;
  for (auto& result : results) {
    ASSERT_TRUE(result.has_value()) << result.error().what();
    fetched += result->stats.layers_fetched;
  }
  EXPECT_EQ(fetched, static_cast<int>(layered.layers.size())) << "each layer downloaded once";
  // busybox is layered's bottom layer: nothing left to fetch.
  auto again = puller.pull(reference_of(busybox.reference()));
  ASSERT_TRUE(again.has_value()) << again.error().what();
  EXPECT_EQ(again->stats.layers_fetched, 0);
  EXPECT_EQ(again->stats.layers_present, 1);
  expect_pulled(*again, busybox);
}

TEST_F(PullerTest, BlobThatDoesNotMatchItsDigestIsRejectedAndNotStored) {
  TestRegistry registry;
  TestImages images(registry);
  const auto& image = images.layered(ManifestFormat::docker);
  auto top = image.layers.back().digest;
  registry.corrupt_blob(top);
  auto client = client_for(registry);
  Puller puller(*store_, *client);
  auto pulled = puller.pull(reference_of(image.reference()));
  ASSERT_FALSE(pulled.has_value());
  EXPECT_TRUE(mentions(pulled.error(), top)) << pulled.error().what();
  EXPECT_TRUE(mentions(pulled.error(), "digest")) << pulled.error().what();
  EXPECT_FALSE(store_->has_layer(*parse_digest(top)));
  auto record = store_->image(pulled.has_value() ? "" : reference_of(image.reference()).str());
  ASSERT_TRUE(record.has_value());
  EXPECT_FALSE(record->has_value()) << "no image record for a failed pull";
  expect_nothing_partial();
}

TEST_F(PullerTest, BrokenDownloadsResumeAndARegistryThatStaysAwayFailsClearly) {
  TestRegistry registry;
  TestImages images(registry);
  auto large = images.large({.total_bytes = 24 << 20, .layers = 2});
  berth::testing::RegistryFaultProxy proxy(registry.port());
  auto via_proxy = reference_of(proxy.address() + "/" + large.repository + ":" + large.tag);

  // The next three blob downloads are armed to be cut at 3 MiB: the config's
  // (smaller: it arrives whole) and both layers'. The client resumes both
  // layers with Range requests and they still check out.
  proxy.cut_blob_downloads(3 << 20, 3);
  RegistryOptions options{.insecure_registries = {proxy.address()}, .backoff = std::chrono::milliseconds(20)};
  auto client = RegistryClient::create(options);
  ASSERT_TRUE(client.has_value());
  Puller puller(*store_, **client);
  auto pulled = puller.pull(via_proxy);
  ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
  EXPECT_EQ(proxy.faults_injected(), 2);
  EXPECT_EQ((*client)->stats().resumed_blobs, 2u);
  EXPECT_EQ(pulled->stats.layers_fetched, 2);

  // The registry goes away for good: retries, then an error naming the registry.
  auto fresh = ImageStore::open(dir_.path() / "store2");
  ASSERT_TRUE(fresh.has_value());
  Puller second(*fresh, **client);
  registry.stop();
  auto failed = second.pull(via_proxy);
  ASSERT_FALSE(failed.has_value());
  EXPECT_TRUE(mentions(failed.error(), proxy.address())) << failed.error().what();
  EXPECT_GE((*client)->stats().retries, 3u);
  EXPECT_TRUE(fs::is_empty(fresh->root() / "layers/ingest"));
  EXPECT_TRUE(fs::is_empty(fresh->root() / "layers/sha256"));
  // Back again: the same pull completes.
  registry.start();
  auto retried = second.pull(via_proxy);
  ASSERT_TRUE(retried.has_value()) << retried.error().what();
}

// A pull whose download broke off for good (its process was killed, stopped
// or ran out of retries) leaves what it got in the store; the next pull of
// the layer replays that and asks the registry for the rest only.
TEST_F(PullerTest, ABrokenOffDownloadIsKeptAndTheNextPullFetchesOnlyTheRest) {
  TestRegistry registry;
  TestImages images(registry);
  auto large = images.large({.total_bytes = 16 << 20, .layers = 1, .seed = 21});
  berth::testing::RegistryFaultProxy proxy(registry.port());
  auto [via_proxy, client] = through(registry, proxy, large);
  constexpr std::uint64_t kCut = 5 << 20;
  proxy.cut_blob_downloads(kCut, 2);  // the config (whole: it is smaller) and the layer
  auto broken = Puller(*store_, *client).pull(via_proxy);
  ASSERT_FALSE(broken.has_value());
  auto partial = store_->partial_path(*parse_digest(large.layers[0].digest));
  ASSERT_TRUE(fs::exists(partial));
  EXPECT_EQ(fs::file_size(partial), kCut);
  expect_nothing_partial();

  auto pulled = Puller(*store_, *client).pull(via_proxy);
  ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
  EXPECT_EQ(pulled->stats.bytes_resumed, kCut);
  EXPECT_EQ(pulled->stats.bytes_fetched, large.layers[0].size - kCut);
  expect_pulled(*pulled, large);
  EXPECT_FALSE(fs::exists(partial)) << "gone once the layer is in";
}

TEST_F(PullerTest, KeptBytesThatDoNotCheckOutAreDroppedAndTheLayerIsFetchedWhole) {
  TestRegistry registry;
  TestImages images(registry);
  auto large = images.large({.total_bytes = 8 << 20, .layers = 1, .seed = 22});
  berth::testing::RegistryFaultProxy proxy(registry.port());
  auto [via_proxy, client] = through(registry, proxy, large);
  proxy.cut_blob_downloads(3 << 20, 2);
  ASSERT_FALSE(Puller(*store_, *client).pull(via_proxy).has_value());
  auto partial = store_->partial_path(*parse_digest(large.layers[0].digest));
  ASSERT_TRUE(fs::exists(partial));
  {
    std::fstream damage(partial, std::ios::binary | std::ios::in | std::ios::out);
    damage.seekp(1 << 20);
    damage.put('\x5a');
  }
  auto pulled = Puller(*store_, *client).pull(via_proxy);
  ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
  EXPECT_EQ(pulled->stats.bytes_resumed, 0u);
  EXPECT_EQ(pulled->stats.bytes_fetched, large.layers[0].size);
  expect_pulled(*pulled, large);
  EXPECT_FALSE(fs::exists(partial));
  expect_nothing_partial();
}

TEST_F(PullerTest, PruneRemovesKeptDownloadsAndACancelledPullEndsAtOnce) {
  TestRegistry registry;
  TestImages images(registry);
  auto large = images.large({.total_bytes = 8 << 20, .layers = 2, .seed = 23});
  berth::testing::RegistryFaultProxy proxy(registry.port());
  auto [via_proxy, client] = through(registry, proxy, large);
  proxy.cut_blob_downloads(1 << 20, 3);
  ASSERT_FALSE(Puller(*store_, *client, {.parallel_layers = 2}).pull(via_proxy).has_value());
  ASSERT_FALSE(fs::is_empty(store_->root() / "layers/partial"));
  auto pruned = store_->prune();
  ASSERT_TRUE(pruned.has_value()) << pruned.error().what();
  EXPECT_GE(pruned->partial_downloads_removed, 1u);
  EXPECT_TRUE(fs::is_empty(store_->root() / "layers/partial"));

  Puller cancelled(*store_, *client);
  cancelled.cancel();
  auto refused = cancelled.pull(via_proxy);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ECANCELED) << refused.error().what();
  EXPECT_TRUE(fs::is_empty(store_->root() / "layers/sha256"));
  expect_nothing_partial();
}

TEST_F(PullerTest, UnknownImagesAndTagsAreClearErrors) {
  TestRegistry registry;
  TestImages images(registry);
  images.busybox(ManifestFormat::oci);
  auto client = client_for(registry);
  Puller puller(*store_, *client);
  auto tag = puller.pull(reference_of(registry.address() + "/busybox:no-such-tag"));
  ASSERT_FALSE(tag.has_value());
  EXPECT_TRUE(mentions(tag.error(), "busybox:no-such-tag")) << tag.error().what();
  EXPECT_TRUE(mentions(tag.error(), "not found")) << tag.error().what();
  auto repo = puller.pull(reference_of(registry.address() + "/no/such/image"));
  ASSERT_FALSE(repo.has_value());
  EXPECT_TRUE(mentions(repo.error(), "no/such/image")) << repo.error().what();
  expect_nothing_partial();
}

TEST_F(PullerTest, BearerTokensAreFetchedAndCredentialsSentWhenTheTokenServerWantsThem) {
  TestRegistry open_registry({.auth = RegistryAuth::token});
  TestImages open_images(open_registry);
  const auto& image = open_images.busybox(ManifestFormat::oci);
  auto client = client_for(open_registry);
  Puller puller(*store_, *client);
  auto pulled = puller.pull(reference_of(image.reference()));
  ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
  EXPECT_GE(client->stats().tokens_fetched, 1u);

  TestRegistry login({.auth = RegistryAuth::token_login});
  TestImages login_images(login);
  const auto& private_image = login_images.busybox(ManifestFormat::docker);
  auto anonymous = client_for(login);
  Puller anonymous_puller(*store_, *anonymous);
  auto refused = anonymous_puller.pull(reference_of(private_image.reference()));
  ASSERT_FALSE(refused.has_value());
  EXPECT_TRUE(mentions(refused.error(), "token server")) << refused.error().what();
  auto with_login = client_for(login, {.docker_config = docker_config(login)});
  Puller login_puller(*store_, *with_login);
  auto allowed = login_puller.pull(reference_of(private_image.reference()));
  ASSERT_TRUE(allowed.has_value()) << allowed.error().what();
}

// As registries backed by object storage do: every blob download is a 307 to
// another host, which must get the blob requests but not the registry's token.
TEST_F(PullerTest, BlobsRedirectedToStorageElsewhereArriveWithoutTheAuthorizationHeader) {
  TestRegistry registry({.auth = RegistryAuth::token});
  TestImages images(registry);
  const auto& image = images.layered(ManifestFormat::oci);
  berth::testing::RegistryFaultProxy proxy(registry.port());
  berth::testing::BlobStorageServer storage([&](std::string_view digest) { return registry.blob_data_path(digest); });
  proxy.redirect_blob_downloads(storage.url());
  auto via_proxy = reference_of(proxy.address() + "/" + image.repository + ":" + image.tag);

  RegistryOptions options{.insecure_registries = {proxy.address()}, .backoff = std::chrono::milliseconds(20)};
  auto client = RegistryClient::create(options);
  ASSERT_TRUE(client.has_value()) << client.error().what();
  auto pulled = Puller(*store_, **client).pull(via_proxy);
  ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
  EXPECT_GE((*client)->stats().tokens_fetched, 1u);
  EXPECT_EQ(pulled->stats.layers_fetched, static_cast<int>(image.layers.size()));
  for (const auto& layer : image.layers) EXPECT_TRUE(store_->has_layer(*parse_digest(layer.digest))) << layer.digest;
  expect_pulled(*pulled, image);  // digests, config and the unpacked files
  expect_nothing_partial();

  // The config and every layer came from the storage, each asked for with the
  // registry's token (so there was one to leak), none arriving with it.
  std::vector<std::string> expected = image.layer_digests();
  expected.push_back(image.config_digest);
  std::vector<std::string> fetched;
  for (const auto& request : storage.requests()) {
    EXPECT_FALSE(request.authorization) << request.method << " " << request.target << " carried Authorization";
    EXPECT_NE(request.target.find("X-Amz-Signature="), std::string::npos) << request.target;
    fetched.push_back(request.digest);
  }
  std::ranges::sort(expected);
  std::ranges::sort(fetched);
  EXPECT_EQ(fetched, expected);
  EXPECT_EQ(proxy.redirects_sent(), static_cast<int>(expected.size()));
  EXPECT_EQ(proxy.redirected_with_authorization(), proxy.redirects_sent());
}

TEST_F(PullerTest, TlsWithATestCaAndBasicAuth) {
  TestRegistry registry({.transport = RegistryTransport::https, .auth = RegistryAuth::basic});
  TestImages images(registry);
  const auto& image = images.busybox(ManifestFormat::oci);
  auto reference = reference_of(image.reference());

  auto untrusted = client_for(registry, {.docker_config = docker_config(registry)});
  auto refused = Puller(*store_, *untrusted).pull(reference);
  ASSERT_FALSE(refused.has_value());
  EXPECT_TRUE(mentions(refused.error(), "certificate")) << refused.error().what();

  auto no_login = client_for(registry, {.ca_file = registry.ca_file()});
  auto unauthorized = Puller(*store_, *no_login).pull(reference);
  ASSERT_FALSE(unauthorized.has_value());
  EXPECT_TRUE(mentions(unauthorized.error(), "user name and password")) << unauthorized.error().what();

  auto trusted = client_for(registry, {.ca_file = registry.ca_file(), .docker_config = docker_config(registry)});
  auto pulled = Puller(*store_, *trusted).pull(reference);
  ASSERT_TRUE(pulled.has_value()) << pulled.error().what();
  expect_pulled(*pulled, image);
}

}  // namespace
}  // namespace berth::fetcher
