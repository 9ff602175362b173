#pragma once
// OCI bundles for the runtime tests, and the runtimes to run them with: a
// busybox rootfs and the config.json `runc spec` writes (a real runtime's
// own default), with the process and terminal adjusted.

#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "launcher/rootfs_test_util.hpp"
#include "support/process.hpp"

namespace berth::runtime::testing {

namespace fs = std::filesystem;
namespace json = boost::json;
using berth::testing::RunResult;
using berth::testing::slurp;
using berth::testing::TempDir;
using berth::testing::write_text;

inline bool have_runc() { return ::access("/usr/sbin/runc", X_OK) == 0 || ::access("/usr/bin/runc", X_OK) == 0; }

// Skips (loudly) without runc, except under CI, where it must be there.
#define BERTH_REQUIRE_RUNC()                                                      \
  do {                                                                            \
    if (!::berth::runtime::testing::have_runc()) {                                \
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")    \
        FAIL() << "runc is missing (scripts/bootstrap installs it), and CI must run this"; \
      GTEST_SKIP() << "needs runc";                                               \
    }                                                                             \
  } while (0)

// Writes <bundle>/rootfs and <bundle>/config.json running `args`.
inline void make_bundle(const fs::path& bundle, const std::vector<std::string>& args) {
  launcher::testing::build_busybox_rootfs(bundle / "rootfs");
  auto spec = berth::testing::run({"/bin/sh", "-c", "cd '" + bundle.string() + "' && exec runc spec"}, std::chrono::seconds(10));
  ASSERT_EQ(spec.exit_code, 0) << spec.err;
  auto config = json::parse(slurp(bundle / "config.json")).as_object();
  auto& process = config["process"].as_object();
  process["terminal"] = false;
  json::array argv;
  for (const auto& a : args) argv.emplace_back(a);
  process["args"] = std::move(argv);
  write_text(bundle / "config.json", json::serialize(config));
}

// Edits <bundle>/config.json in place.
template <typename Edit>
void edit_config(const fs::path& bundle, Edit edit) {
  auto config = json::parse(slurp(bundle / "config.json")).as_object();
  edit(config);
  write_text(bundle / "config.json", json::serialize(config));
}

// runc on this machine must see a pure cgroup v2 host: the hybrid host's v1
// hierarchies belong to the machine's supervisor. A private mount namespace
// with cgroup2 mounted over /sys/fs/cgroup gives runc exactly that.
inline std::vector<std::string> in_pure_cgroup2(const std::string& command) {
  return {"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
          "mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec " + command};
}

}  // namespace berth::runtime::testing
