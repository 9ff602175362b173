#pragma once
// A busybox root filesystem and a fixture launching OCI specs into it, each
// container in its own cgroup v2 cgroup (root). Teardown checks that nothing
// of the test's containers is left: no process in the cgroup, no child, no
// mount, no fd of this process.

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "berth/common/fd.hpp"
#include "berth/launcher/launcher.hpp"
#include "launcher/launcher_test_util.hpp"
#include "support/root.hpp"

namespace berth::launcher::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr char kCgroup2Mount[] = "/sys/fs/cgroup/unified";
inline constexpr char kBusybox[] = "/bin/busybox";

// Debian's busybox-static: one static binary, every applet a symlink to it.
inline void build_busybox_rootfs(const fs::path& root) {
  for (const char* dir : {"bin", "proc", "sys", "dev", "tmp", "etc", "root"}) fs::create_directories(root / dir);
  fs::copy_file(kBusybox, root / "bin/busybox");
  for (const char* applet : {"sh", "cat", "ls", "id", "echo", "touch", "mkdir", "stat", "grep", "hostname", "true",
                             "sleep", "readlink", "wc", "head", "env", "umask", "domainname", "test", "sort"}) {
    fs::create_symlink("busybox", root / "bin" / applet);
  }
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
}

inline std::size_t count_lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

inline std::size_t open_fd_count() { return open_fds("/proc/self/fd").size(); }

inline bool cgroup_populated(const fs::path& cgroup) {
  return slurp(cgroup / "cgroup.events").find("populated 1") != std::string::npos;
}

struct Ran {
  int code = -1;  // the task's exit code (128 + signal)
  std::string out;
  std::string err;
};

class RootfsLaunchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    static std::atomic<int> counter{0};
    cgroup_ = fs::path(kCgroup2Mount) / ("berth-test-" + std::to_string(::getpid()) + "-rootfs-" + std::to_string(counter++));
    ASSERT_TRUE(fs::create_directories(cgroup_));
    cgroup_fd_.reset(::open(cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(cgroup_fd_);
    build_busybox_rootfs(rootfs_.path());
    // A task in a user namespace is not root on the host: it writes its output and exit status as "others".
    fs::permissions(sandbox_.path(), fs::perms::all);
    mount_count_ = count_lines(slurp("/proc/self/mountinfo"));
    ASSERT_TRUE(prepare_launches());  // its one fd lives as long as this process
    fd_count_ = open_fd_count();
  }

  void TearDown() override {
    if (cgroup_.empty()) return;
    EXPECT_FALSE(cgroup_populated(cgroup_)) << "a process outlived the test";
    EXPECT_EQ(open_fd_count(), fd_count_) << "an fd of a launch leaked";
    testing::write_text(cgroup_ / "cgroup.kill", "1");
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (cgroup_populated(cgroup_) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    cgroup_fd_.reset();
    EXPECT_EQ(::rmdir(cgroup_.c_str()), 0);
    EXPECT_TRUE(has_no_children());
    EXPECT_EQ(count_lines(slurp("/proc/self/mountinfo")), mount_count_) << "a mount outlived the test";
  }

  // pid, mount, uts and ipc namespaces, the busybox rootfs, /proc, /dev/pts,
  // /dev/mqueue and a read-only /sys, as a runtime's default config has.
  oci::Spec spec(std::vector<std::string> args) {
    oci::Spec spec;
    spec.process.args = std::move(args);
    spec.process.env = {"PATH=/bin", "HOME=/root"};
    spec.process.cwd = "/";
    spec.root.path = rootfs_.path();
    spec.hostname = "berth-box";
    add_namespaces(spec, {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC});
    spec.mounts = {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
        {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
        {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
    };
    return spec;
  }

  LaunchRequest request(oci::Spec spec) {
    LaunchRequest request;
    request.container_id = "rootfs-test";
    request.spec = std::move(spec);
    request.stdout_path = sandbox_ / "stdout";
    request.stderr_path = sandbox_ / "stderr";
    request.runtime_dir = sandbox_.path();
    request.cgroup_fd = cgroup_fd_.get();
    return request;
  }

  Result<Launched> launch(oci::Spec spec) { return launcher_.launch(request(std::move(spec))); }

  // Launches, waits for the task to end, and returns what it wrote.
  Ran run(oci::Spec spec) {
    fs::remove(sandbox_ / "stdout");
    fs::remove(sandbox_ / "stderr");
    auto launched = launch(std::move(spec));
    if (!launched) {
      ADD_FAILURE() << launched.error().what();
      return {};
    }
    auto status = reap(launched->pidfd.get());
    return {status ? status->code : -1, slurp(sandbox_ / "stdout"), slurp(sandbox_ / "stderr")};
  }

  // Runs `script` with sh -c in the default spec plus `adjust`.
  template <typename Adjust>
  Ran sh(const std::string& script, Adjust adjust) {
    auto s = spec({"sh", "-c", script});
    adjust(s);
    return run(std::move(s));
  }
  Ran sh(const std::string& script) {
    return sh(script, [](oci::Spec&) {});
  }

  // The error of a launch expected to fail.
  Error launch_error(oci::Spec spec) {
    auto launched = launch(std::move(spec));
    if (launched) {
      ADD_FAILURE() << "launch succeeded";
      (void)reap(launched->pidfd.get());
      return Error("launch succeeded");
    }
    return launched.error();
  }

  TempDir rootfs_;
  TempDir sandbox_;
  fs::path cgroup_;
  UniqueFd cgroup_fd_;
  std::size_t mount_count_ = 0;
  std::size_t fd_count_ = 0;
  LinuxLauncher launcher_;
};

}  // namespace berth::launcher::testing
