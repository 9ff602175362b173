// End to end: tasks that run from Docker images. A real registry on loopback
// serves images built offline; the agent pulls them into its store and runs
// the task in an overlay of the image's layers.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "support/cluster.hpp"
#include "support/registry.hpp"
#include "support/root.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

class ImageTest : public ::testing::Test {
 protected:
  virtual std::vector<std::string> more_agent_flags() const { return {}; }
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    registry_.emplace();
    images_.emplace(*registry_);
    std::vector<std::string> agent_flags{"--insecure_registries=" + registry_->address()};
    for (auto& flag : more_agent_flags()) agent_flags.push_back(std::move(flag));
    cluster_.emplace(Cluster::Options{.master_flags = {}, .agent_flags = std::move(agent_flags)});
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

// The agent's /state names a running task's image and its ExposedPorts.
TEST_F(ImageTest, TheAgentStateShowsTheImageOfARunningTask) {
  const auto& image = images_->busybox(ManifestFormat::oci);
  ASSERT_FALSE(image.config.exposed_ports.empty());
  auto log = cluster_->dir() / "waiting.log";
  auto cli = cluster_->run_async({"--name=waiting", "--image=" + image.reference(), "--", "/bin/sh", "-c",
                                  "while [ ! -e $MESOS_SANDBOX/go ]; do sleep 0.05; done; echo went"},
                                 log);
  boost::json::object task;
  ASSERT_TRUE(wait_until([&] {
    auto state = cluster_->agent_state();
    for (const auto& framework : state.at("frameworks").as_array()) {
      for (const auto& t : framework.at("tasks").as_array()) {
        if (t.at("state").as_string() == "TASK_RUNNING") task = t.as_object();
      }
    }
    return !task.empty();
  }, 60s)) << read_file(log) << cluster_->agent_log();
  ASSERT_TRUE(task.contains("image")) << boost::json::serialize(task);
  const auto& shown = task.at("image").as_object();
  EXPECT_EQ(shown.at("reference").as_string(), image.reference());
  EXPECT_EQ(shown.at("manifest_digest").as_string(), image.manifest_digest);
  std::vector<std::string> ports;
  for (const auto& port : shown.at("exposed_ports").as_array()) ports.emplace_back(port.as_string());
  auto expected = image.config.exposed_ports;
  std::ranges::sort(ports);
  std::ranges::sort(expected);
  EXPECT_EQ(ports, expected);

  std::ofstream(std::string(task.at("sandbox").as_string()) + "/go") << "";
  EXPECT_EQ(cli.wait(30s), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("went"), std::string::npos) << read_file(log);
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

TEST_F(ImageTest, ImagesAreListedAndPruneRemovesOnlyWhatNothingUses) {
  const auto& image = images_->busybox(ManifestFormat::docker);
  auto ran = cluster_->run({"--image=" + image.reference(), "--", "/bin/true"}, 120s);
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  auto agent = "--agent=127.0.0.1:" + std::to_string(cluster_->agent_port());
  auto listed = run({bin("berth").string(), "images", agent}, 30s);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(image.registry + "/busybox:docker"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find(image.manifest_digest.substr(0, 19)), std::string::npos) << listed.out;

  // A layer no image names (as an interrupted pull of an image since deleted
  // would leave), next to the busybox layer that an image names.
  auto layers = cluster_->dir() / "agent" / "images" / "layers" / "sha256";
  ASSERT_TRUE(std::filesystem::exists(layers)) << layers;
  auto orphan = layers / std::string(64, 'e');
  std::filesystem::create_directories(orphan / "etc");
  auto pruned = run({bin("berth").string(), "images", "prune", agent}, 30s);
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_NE(pruned.out.find("removed layer sha256:" + std::string(64, 'e')), std::string::npos) << pruned.out;
  EXPECT_FALSE(std::filesystem::exists(orphan));
  for (const auto& layer : image.layer_digests()) {
    EXPECT_TRUE(std::filesystem::exists(layers / layer.substr(7))) << layer << " is the image's";
  }
  auto unreachable = run({bin("berth").string(), "images", "--agent=127.0.0.1:1"}, 30s);
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("127.0.0.1:1"), std::string::npos) << unreachable.err;
}

// The escape probe's lines: name -> "outcome detail".
std::map<std::string, std::string> probe_lines(const std::string& out) {
  std::map<std::string, std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto space = line.find(' ');
    if (space != std::string::npos) lines[line.substr(0, space)] = line.substr(space + 1);
  }
  return lines;
}

// The escape suite from inside an image container running as root; see
// security_test.cpp for the same from a container on the host's filesystem.
// In a user namespace the container's root is no owner of the host's /proc
// and /sys files: writing them fails on permission before the read-only mount.
void expect_no_way_out(Cluster& cluster, const TestImage& image, bool user_namespace) {
  auto host_only = cluster.dir().string();  // exists on the host, not in the image
  auto result = cluster.run({"--image=" + image.reference(), "--quiet", "--", "/bin/escape_probe",
                             std::to_string(::getpid()), "/dev/vda", host_only},
                            120s);
  ASSERT_EQ(result.exit_code, 0) << result.err << cluster.agent_log();
  auto seen = probe_lines(result.out);
  EXPECT_EQ(seen["fds"], "ok count=3");
  EXPECT_EQ(seen["no_new_privs"], "ok value=1");
  EXPECT_EQ(seen["cap_eff"], "ok value=00000000a80425fb");
  EXPECT_EQ(seen["seccomp_mode"], "ok value=2");
  EXPECT_EQ(seen["cwd"], "ok path=/");
  for (const auto* name : {"mount", "umount", "unshare_mnt", "unshare_user", "clone_newns", "setns", "pivot_root",
                           "ptrace_attach", "init_module", "finit_module", "bpf", "keyctl", "add_key",
                           "perf_event_open", "reboot", "clock_settime", "settimeofday", "kexec_load", "mknod_block",
                           "raise_rlimit"}) {
    EXPECT_EQ(seen[name], "EPERM") << name << "\n" << result.out;
  }
  EXPECT_EQ(seen["kill_host"], "ESRCH");
  EXPECT_EQ(seen["write_proc_sys"], user_namespace ? "EACCES" : "EROFS");
  EXPECT_EQ(seen["write_sys"], user_namespace ? "EACCES" : "EROFS");
  EXPECT_EQ(seen["open_host_disk"], "ENOENT") << "the container's /dev has no host disks";
  EXPECT_EQ(seen["read_keys"], "ok bytes=0");
  EXPECT_EQ(seen["list_sys_firmware"], "ok entries=0");
  EXPECT_FALSE(seen["write_init_exe"].starts_with("ok"));
  EXPECT_EQ(seen["chroot_escape"], "ok seen=0") << "climbing out of a chroot stops at the container's root";
  for (const auto* name : {"pipe", "fork_exec", "socket"}) EXPECT_EQ(seen[name], "ok") << name;
}

TEST_F(ImageTest, NoWayOutOfAnImageContainer) {
  expect_no_way_out(*cluster_, images_->escape(ManifestFormat::oci), false);
}

// Image tasks in user namespaces: the image's layers shown through an idmap
// of the container's range, attached inside its own mount namespace.
class UserNamespaceImageTest : public ImageTest {
 protected:
  std::vector<std::string> more_agent_flags() const override {
    return {"--user_namespaces", "--user_namespace_ids=800000:262144"};
  }
};

TEST_F(UserNamespaceImageTest, TheLayersKeepTheirOwnersWhiteoutsAndOpaqueDirectories) {
  const auto& image = images_->layered(ManifestFormat::oci);
  std::string absent_checks;
  for (const auto& path : image.rootfs.absent) absent_checks += "test -e " + path + " && echo still-there:" + path + "; ";
  auto script = "cat /proc/self/uid_map; id -u; ls -ln /bin/busybox; " + absent_checks +
                "echo out > $MESOS_SANDBOX/file && cat $MESOS_SANDBOX/file; "
                "echo tmp > /tmp/t && cat /tmp/t; true";
  auto result = cluster_->run({"--image=" + image.reference(), "--", "/bin/sh", "-c", script}, 120s);
  ASSERT_EQ(result.exit_code, 0) << result.err << cluster_->agent_log();
  std::istringstream out(result.out);
  std::uint64_t inside = 1, outside = 0, count = 0;
  out >> inside >> outside >> count;
  EXPECT_EQ(inside, 0u) << result.out;
  EXPECT_EQ(count, 65536u) << result.out;
  EXPECT_TRUE(outside >= 800000 && outside < 800000 + 262144) << result.out;
  EXPECT_NE(result.out.find("\n1000\n"), std::string::npos) << "the image's user: " << result.out;
  // Owned by root in the image, and shown so (an unmapped owner would show as 65534).
  EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(\n-rwxr-xr-x +1 +0 +0 +[0-9]+ .*/bin/busybox\n)")))
      << result.out;
  EXPECT_EQ(result.out.find("still-there"), std::string::npos) << "whiteouts and opaque directories hold: "
                                                               << result.out;
  EXPECT_NE(result.out.find("out\ntmp\n"), std::string::npos) << result.out;
}

TEST_F(UserNamespaceImageTest, NoWayOutOfAnImageContainerInAUserNamespace) {
  expect_no_way_out(*cluster_, images_->escape(ManifestFormat::oci), true);
}

}  // namespace
}  // namespace berth::testing
