// TestImageLayout: the test images, built with umoci (and GNU tar where umoci
// falls short) into one OCI layout per test process.

#include <stdlib.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <stdexcept>

#include "support/registry_shell.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void umoci(std::vector<std::string> args) {
  args.insert(args.begin(), "umoci");
  run_tool(std::move(args));
}

std::string image(const fs::path& layout, std::string_view tag) { return layout.string() + ":" + std::string(tag); }

// Unpacks `tag`, lets `change` edit its rootfs, and repacks the difference as one new layer.
void add_layer(const fs::path& layout, std::string_view tag, const std::function<void(const fs::path&)>& change) {
  auto bundle = layout.parent_path() / ("bundle-" + std::string(tag));
  umoci({"unpack", "--image", image(layout, tag), bundle.string()});
  change(bundle / "rootfs");
  umoci({"repack", "--image", image(layout, tag), bundle.string()});
  fs::remove_all(bundle);
}

void stage_all(const fs::path& root, const std::vector<ExpectedFile>& files) {
  for (const auto& file : files) stage(root, file);
}

std::vector<std::string> umoci_config_flags(const ExpectedConfig& config) {
  std::vector<std::string> flags{"--architecture", config.architecture, "--os", config.os};
  auto add = [&](const char* flag, const std::vector<std::string>& values) {
    for (const auto& value : values) flags.insert(flags.end(), {flag, value});
  };
  add("--config.entrypoint", config.entrypoint);
  add("--config.cmd", config.cmd);
  add("--config.env", config.env);
  add("--config.exposedports", config.exposed_ports);
  if (!config.working_dir.empty()) flags.insert(flags.end(), {"--config.workingdir", config.working_dir});
  if (!config.user.empty()) flags.insert(flags.end(), {"--config.user", config.user});
  return flags;
}

std::vector<ExpectedFile> busybox_files(const fs::path& busybox) {
  std::vector<ExpectedFile> files{expected_directory("/bin"), expected_copy_of("/bin/busybox", busybox)};
  for (const char* applet : {"sh", "true", "echo", "sleep", "cat", "ls"}) {
    files.push_back(expected_symlink(std::string("/bin/") + applet, "busybox"));
  }
  files.push_back(expected_directory("/home"));
  files.push_back(owned_by(expected_directory("/home/berth"), 1000, 1000));
  files.push_back(expected_directory("/tmp", 01777));
  return files;
}

}  // namespace

ExpectedConfig busybox_config() {
  return {.architecture = "amd64",
          .os = "linux",
          .entrypoint = {"/bin/sh", "-c"},
          .cmd = {"echo hello from berth"},
          .env = {"PATH=/bin", "BERTH_IMAGE=busybox"},
          .working_dir = "/home/berth",
          .user = "1000:1000",
          .exposed_ports = {"8080/tcp"}};
}

std::shared_ptr<const TestImageLayout> TestImageLayout::shared() {
  static std::mutex mutex;
  static std::shared_ptr<const TestImageLayout> instance;
  std::lock_guard lock(mutex);
  if (!instance) instance.reset(new TestImageLayout());
  return instance;
}

TestImageLayout::TestImageLayout() {
  if (::geteuid() != 0) throw std::runtime_error("registry harness: building test images needs root (umoci keeps owners)");
  char name[] = "/tmp/berth-images-XXXXXX";
  if (::mkdtemp(name) == nullptr) throw std::runtime_error("registry harness: mkdtemp failed");
  dir_ = name;
  try {
    build();
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

TestImageLayout::~TestImageLayout() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

const ExpectedRootfs& TestImageLayout::rootfs(std::string_view tag) const {
  auto found = rootfs_.find(tag);
  if (found == rootfs_.end()) throw std::out_of_range("no test image '" + std::string(tag) + "'");
  return found->second;
}

const ExpectedConfig& TestImageLayout::config(std::string_view tag) const {
  auto found = config_.find(tag);
  if (found == config_.end()) throw std::out_of_range("no test image '" + std::string(tag) + "'");
  return found->second;
}

void TestImageLayout::build() {
  umoci({"init", "--layout", dir().string()});
  build_busybox();
  build_layered();
  build_multiarch();
  build_escape();
}

void TestImageLayout::build_escape() {
  auto config = busybox_config();
  config.user = "0:0";
  config.working_dir = "/";
  umoci({"config", "--image", image(dir(), "busybox"), "--tag", "escape", "--config.user", config.user,
         "--config.workingdir", config.working_dir});
  auto probe = expected_copy_of("/bin/escape_probe", BERTH_ESCAPE_PROBE);
  probe.mode = 0755;
  add_layer(dir(), "escape", [&](const fs::path& rootfs) { stage(rootfs, probe, BERTH_ESCAPE_PROBE); });
  auto files = rootfs("busybox").present;
  files.push_back(probe);
  rootfs_["escape"] = {.present = files};
  config_["escape"] = config;
}

void TestImageLayout::build_busybox() {
  auto busybox = tool("busybox");
  auto files = busybox_files(busybox);
  umoci({"new", "--image", image(dir(), "busybox")});
  add_layer(dir(), "busybox", [&](const fs::path& rootfs) {
    for (const auto& file : files) stage(rootfs, file, file.path == "/bin/busybox" ? busybox : fs::path());
  });
  auto flags = umoci_config_flags(busybox_config());
  flags.insert(flags.begin(), {"config", "--image", image(dir(), "busybox")});
  umoci(flags);
  rootfs_["busybox"] = {.present = files};
  config_["busybox"] = busybox_config();
}

void TestImageLayout::build_layered() {
  auto config = busybox_config();
  config.cmd = {"cat /etc/motd"};
  umoci({"config", "--image", image(dir(), "busybox"), "--tag", "layered", "--config.cmd", config.cmd.front()});
  add_layer(dir(), "layered", [](const fs::path& rootfs) {
    stage_all(rootfs, {expected_directory("/etc"), expected_regular("/etc/motd", "layer 2\n"),
                       expected_directory("/data"), expected_regular("/data/keep.txt", "kept from layer 2\n"),
                       expected_regular("/data/remove-me.txt", "deleted in layer 3\n"), expected_directory("/opaque"),
                       expected_regular("/opaque/old-a.txt", "hidden by layer 4\n"), expected_directory("/opaque/sub"),
                       expected_regular("/opaque/sub/old-c.txt", "hidden by layer 4\n")});
  });
  // umoci records the deletion as data/.wh.remove-me.txt.
  add_layer(dir(), "layered", [](const fs::path& rootfs) {
    fs::remove(rootfs / "data/remove-me.txt");
    stage_all(rootfs, {expected_regular("/etc/motd", "layer 3\n"), expected_regular("/data/added.txt", "added in layer 3\n")});
  });
  // An opaque directory: umoci's repack writes one whiteout per deleted entry
  // instead, and `umoci insert --opaque` (0.4.7) leaves the tar unterminated.
  auto staging = dir_ / "opaque-layer";
  stage_all(staging, {expected_directory("/opaque"), expected_regular("/opaque/.wh..wh..opq", ""),
                      expected_regular("/opaque/new.txt", "new in layer 4\n")});
  auto tar = dir_ / "opaque-layer.tar";
  run_tool({"tar", "--create", "--file", tar.string(), "--directory", staging.string(), "--no-recursion",
            "--numeric-owner", "--owner=0", "--group=0", "--mtime=@1577836800", "opaque", "opaque/.wh..wh..opq",
            "opaque/new.txt"});
  fs::remove_all(staging);
  layout().append_layer("layered", "layered", compress_layer(tar, LayerCompression::gzip),
                        "berth test: replace /opaque (opaque whiteout)");

  auto files = rootfs("busybox").present;
  for (auto file : {expected_directory("/etc"), expected_regular("/etc/motd", "layer 3\n"), expected_directory("/data"),
                    expected_regular("/data/keep.txt", "kept from layer 2\n"),
                    expected_regular("/data/added.txt", "added in layer 3\n"), expected_directory("/opaque"),
                    expected_regular("/opaque/new.txt", "new in layer 4\n")}) {
    files.push_back(std::move(file));
  }
  rootfs_["layered"] = {.present = files,
                        .absent = {"/data/remove-me.txt", "/opaque/old-a.txt", "/opaque/sub", "/opaque/sub/old-c.txt"}};
  config_["layered"] = config;
}

void TestImageLayout::build_multiarch() {
  json::array manifests;
  for (std::string architecture : {"amd64", "arm64"}) {
    auto tag = "multiarch-" + architecture;
    umoci({"config", "--image", image(dir(), "busybox"), "--tag", tag, "--architecture", architecture});
    std::vector<ExpectedFile> marker{expected_directory("/etc"), expected_regular("/etc/berth-arch", architecture + "\n")};
    add_layer(dir(), tag, [&](const fs::path& rootfs) { stage_all(rootfs, marker); });
    auto files = rootfs("busybox").present;
    files.insert(files.end(), marker.begin(), marker.end());
    rootfs_[tag] = {.present = files};
    auto config = busybox_config();
    config.architecture = architecture;
    config_[tag] = config;
    json::object platform{{"architecture", architecture}, {"os", "linux"}};
    if (architecture == "arm64") platform["variant"] = "v8";
    auto entry = layout().tagged(tag).to_json();
    entry["platform"] = std::move(platform);
    manifests.push_back(std::move(entry));
  }
  json::object index{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", std::move(manifests)}};
  auto layout = this->layout();
  layout.tag("multiarch", layout.add_blob(json::serialize(index), kOciIndex));
}

}  // namespace berth::testing
