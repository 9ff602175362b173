// End to end: tasks that run from Docker images. A real registry on loopback
// serves images built offline; the agent pulls them into its store and runs
// the task in an overlay of the image's layers.

#include <gtest/gtest.h>

#include "support/cluster.hpp"
#include "support/registry.hpp"
#include "support/root.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    registry_.emplace();
    images_.emplace(*registry_);
    cluster_.emplace(Cluster::Options{.master_flags = {},
                                      .agent_flags = {"--insecure_registries=" + registry_->address()}});
    cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }
  void TearDown() override {
    if (cluster_ && !::testing::Test::IsSkipped()) cluster_->check_no_leaks();
  }
  std::optional<TestRegistry> registry_;
  std::optional<TestImages> images_;
  std::optional<Cluster> cluster_;
};

TEST_F(ImageTest, TheImagesEntrypointAndCmdRunWhenTheTaskGivesNoCommand) {
  const auto& image = images_->busybox(ManifestFormat::oci);
  auto result = cluster_->run({"--image=" + image.reference()}, 120s);
  EXPECT_EQ(result.exit_code, 0) << result.err << cluster_->agent_log();
  EXPECT_EQ(result.out, "hello from berth\n") << result.err;
  EXPECT_NE(result.err.find("Pulling image"), std::string::npos) << result.err;
}

TEST_F(ImageTest, ACommandRunsInTheLayeredImageAsItsUserWithTheSandboxMounted) {
  const auto& image = images_->layered(ManifestFormat::docker);
  ASSERT_FALSE(image.rootfs.absent.empty());
  const auto& deleted = image.rootfs.absent.front();
  auto script = "test -e " + deleted + " && echo still-there; id -u; pwd; echo $BERTH_IMAGE; "
                "echo out > $MESOS_SANDBOX/file && cat /mnt/mesos/sandbox/file; touch /new-file 2>/dev/null && echo wrote; true";
  auto result = cluster_->run({"--image=" + image.reference(), "--", "/bin/sh", "-c", script}, 120s);
  EXPECT_EQ(result.exit_code, 0) << result.err << cluster_->agent_log();
  EXPECT_EQ(result.out, "1000\n" + image.config.working_dir + "\nbusybox\nout\n") << result.err;
  // The task runs as 1000 in a root-owned image: it may not write /.
  EXPECT_EQ(result.out.find("wrote"), std::string::npos);

  // The second run finds every layer in the store.
  auto again = cluster_->run({"--image=" + image.reference(), "--", "/bin/true"}, 60s);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(cluster_->agent_log().find("0 layers fetched"), std::string::npos) << cluster_->agent_log();
}

TEST_F(ImageTest, AnImageThatCannotBePulledFailsTheTaskWithTheReason) {
  auto result = cluster_->run({"--image=" + registry_->address() + "/no/such/image:1", "--", "/bin/true"}, 60s);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("FAILED"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("Failed to pull the image"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("not found"), std::string::npos) << result.err;

  auto bad = cluster_->run({"--image=UPPER/Case", "--", "/bin/true"}, 60s);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("ERROR"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("UPPER/Case"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace berth::testing
