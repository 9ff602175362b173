// End to end: `berth pull` processes sharing an image store with each other
// and with an agent, killed midway, and an agent that reads images from a
// directory of archives (--docker_registry=DIR) or from a store filled ahead
// while no registry answers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "fetcher/overlay_rootfs.hpp"
#include "support/cluster.hpp"
#include "support/registry.hpp"
#include "support/registry_fault_proxy.hpp"
#include "support/registry_shell.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::vector<std::string> pull_argv(const fs::path& store, const std::string& image,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{bin("berth").string(), "pull", image, "--image_store_dir=" + store.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::size_t entries(const fs::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
  return n;
}

// "(F fetched, P already here)" of a berth pull's output.
std::pair<int, int> fetched_and_present(const std::string& out) {
  int fetched = -1, present = -1;
  auto at = out.find(" layers (");
  if (at != std::string::npos) std::sscanf(out.c_str() + at, " layers (%d fetched, %d already here)", &fetched, &present);
  return {fetched, present};
}

class PullProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { BERTH_REQUIRE_ROOT(); }
  TempDir dir_;
};

TEST_F(PullProcessTest, TwoPullsOfOneImageInTwoProcessesFetchEachLayerOnce) {
  TestRegistry registry;
  TestImages images(registry);
  auto image = images.large({.repository = "shared", .total_bytes = 24 << 20, .layers = 4, .seed = 7});
  RegistryFaultProxy proxy(registry.port());
  proxy.limit_rate(16 << 20);  // slow enough for the two pulls to overlap
  auto reference = proxy.address() + "/shared:latest";
  auto store = dir_ / "store";
  std::vector<std::string> flags{"--insecure_registries=" + proxy.address(), "--parallel=2"};

  auto first = Process::spawn(pull_argv(store, reference, flags), dir_ / "first.log");
  auto second = Process::spawn(pull_argv(store, reference, flags), dir_ / "second.log");
  ASSERT_EQ(first.wait(120s), 0) << read_file(dir_ / "first.log");
  ASSERT_EQ(second.wait(120s), 0) << read_file(dir_ / "second.log");
  auto [fetched_1, present_1] = fetched_and_present(read_file(dir_ / "first.log"));
  auto [fetched_2, present_2] = fetched_and_present(read_file(dir_ / "second.log"));
  EXPECT_EQ(fetched_1 + fetched_2, 4) << read_file(dir_ / "first.log") << read_file(dir_ / "second.log");
  EXPECT_EQ(present_1 + present_2, 4);
  // Each layer crossed the proxy once; the config once per pull.
  EXPECT_EQ(proxy.blob_downloads_seen(), 4 + 2);
  EXPECT_EQ(entries(store / "layers/sha256"), 4u);
  EXPECT_EQ(entries(store / "layers/ingest"), 0u);
  EXPECT_EQ(entries(store / "layers/locks"), 0u) << "lock files go with their locks";
}

TEST_F(PullProcessTest, APullKilledMidwayLeavesNoPartialEntryAndTheNextPullCompletesIt) {
  TestRegistry registry;
  TestImages images(registry);
  auto image = images.large({.repository = "killed", .total_bytes = 32 << 20, .layers = 4, .seed = 11});
  RegistryFaultProxy proxy(registry.port());
  proxy.limit_rate(4 << 20);
  auto reference = proxy.address() + "/killed:latest";
  auto store = dir_ / "store";
  std::vector<std::string> flags{"--insecure_registries=" + proxy.address(), "--parallel=1"};

  auto pull = Process::spawn(pull_argv(store, reference, flags), dir_ / "killed.log");
  // Killed once one layer is in and the next is being unpacked.
  ASSERT_TRUE(wait_until([&] { return entries(store / "layers/sha256") >= 1 && entries(store / "layers/ingest") >= 1; },
                         60s, 20ms))
      << read_file(dir_ / "killed.log");
  pull.signal(SIGKILL);
  EXPECT_EQ(pull.wait(10s), 128 + SIGKILL);
  auto committed = entries(store / "layers/sha256");
  EXPECT_LT(committed, 4u);
  EXPECT_EQ(entries(store / "images"), 0u) << "no record of an image that did not finish";
  EXPECT_GE(entries(store / "layers/ingest"), 1u) << "the kill left its half-unpacked layer";

  proxy.limit_rate(0);
  auto finished = run(pull_argv(store, reference, flags), 120s);
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  auto [fetched, present] = fetched_and_present(finished.out);
  EXPECT_EQ(present, static_cast<int>(committed)) << finished.out << ": layers committed before the kill stay";
  EXPECT_EQ(fetched, 4 - static_cast<int>(committed)) << finished.out;
  EXPECT_EQ(entries(store / "layers/ingest"), 0u) << "the leftover went when the store was opened";
  EXPECT_EQ(entries(store / "blobs/ingest"), 0u);
  std::vector<fs::path> layers;
  for (const auto& digest : image.layer_digests()) layers.push_back(store / "layers/sha256" / digest.substr(7));
  auto differences = rootfs_differences(layers, image.rootfs, dir_.path());
  EXPECT_TRUE(differences.empty()) << ::testing::PrintToString(differences);
}

TEST_F(PullProcessTest, BadInputGetsAnErrorNamingIt) {
  auto store = dir_ / "store";
  auto relative = run(pull_argv(store, "oci:layouts/app"), 30s);
  EXPECT_EQ(relative.exit_code, 1);
  EXPECT_THAT(relative.err, HasSubstr("the path layouts/app must be absolute"));
  auto missing = run(pull_argv(store, "docker-archive:" + (dir_ / "none.tar").string()), 30s);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr((dir_ / "none.tar").string()));
  auto refused = run(pull_argv(store, "127.0.0.1:1/app:1", {"--insecure_registries=127.0.0.1:1"}), 60s);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("127.0.0.1:1"));
  auto no_store = run({bin("berth").string(), "pull", "busybox"}, 30s);
  EXPECT_NE(no_store.exit_code, 0);
  EXPECT_THAT(no_store.err, HasSubstr("--image_store_dir"));
  EXPECT_EQ(entries(store / "layers/sha256"), 0u);
}

class AgentImageSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override { BERTH_REQUIRE_ROOT(); }
  void TearDown() override {
    if (cluster_ && !::testing::Test::IsSkipped()) cluster_->check_no_leaks();
  }
  void start(std::vector<std::string> agent_flags) {
    cluster_.emplace(Cluster::Options{.master_flags = {}, .agent_flags = std::move(agent_flags)});
    cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }
  TempDir archives_;
  std::optional<Cluster> cluster_;
};

TEST_F(AgentImageSourcesTest, ADirectoryOfArchivesServesImagesByNameAndLocalImagesInsideIt) {
  auto layout = TestImageLayout::shared();
  fs::create_directories(archives_ / "berth");
  // skopeo takes no ':' in a path: it writes the archive, then it is renamed as Mesos names them.
  run_tool({"skopeo", "copy", "--quiet", "oci:" + layout->dir().string() + ":layered",
            "docker-archive:" + (archives_ / "saved.tar").string() + ":berth/layered:1.0"});
  fs::rename(archives_ / "saved.tar", archives_ / "berth/layered:1.0.tar");
  run_tool({"skopeo", "copy", "--quiet", "oci:" + layout->dir().string() + ":busybox",
            "oci:" + (archives_ / "layout").string() + ":plain"});
  start({"--docker_registry=" + archives_.path().string()});

  const auto& config = layout->config("layered");
  auto by_name = cluster_->run({"--image=berth/layered:1.0", "--", "/bin/sh", "-c", "id -u; pwd"}, 120s);
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err << cluster_->agent_log();
  EXPECT_EQ(by_name.out, "1000\n" + config.working_dir + "\n") << by_name.err;

  auto layout_image = "oci:" + (archives_ / "layout").string() + ":plain";
  auto from_layout = cluster_->run({"--image=" + layout_image, "--", "/bin/echo", "from a layout"}, 120s);
  EXPECT_EQ(from_layout.exit_code, 0) << from_layout.err << cluster_->agent_log();
  EXPECT_EQ(from_layout.out, "from a layout\n");

  auto outside = cluster_->run({"--image=docker-archive:/etc/passwd", "--", "/bin/true"}, 60s);
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_THAT(outside.err, HasSubstr("ERROR"));
  EXPECT_THAT(outside.err, HasSubstr("/etc/passwd is outside --docker_registry"));
  auto unknown = cluster_->run({"--image=berth/layered:2.0", "--", "/bin/true"}, 60s);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("no archive berth/layered:2.0.tar"));
}

TEST_F(AgentImageSourcesTest, AStoreFilledByBerthPullRunsTasksWhileTheRegistryIsDown) {
  TestRegistry registry;
  TestImages images(registry);
  const auto& image = images.busybox(ManifestFormat::oci);
  start({"--insecure_registries=" + registry.address()});
  auto store = cluster_->dir() / "agent" / "images";
  auto pulled = run(pull_argv(store, image.reference(), {"--insecure_registries=" + registry.address()}), 120s);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_THAT(pulled.out, HasSubstr(image.manifest_digest));
  registry.stop();

  auto cached = cluster_->run({"--image=" + image.reference(), "--", "/bin/echo", "offline"}, 60s);
  EXPECT_EQ(cached.exit_code, 0) << cached.err << cluster_->agent_log();
  EXPECT_EQ(cached.out, "offline\n");
  auto forced = cluster_->run({"--image=" + image.reference(), "--force_pull", "--", "/bin/true"}, 60s);
  EXPECT_NE(forced.exit_code, 0) << "a forced pull asks the registry, which is down";
  EXPECT_THAT(forced.err, HasSubstr("Failed to pull the image"));
}

}  // namespace
}  // namespace berth::testing
