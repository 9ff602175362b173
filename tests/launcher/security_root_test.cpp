// The task's limits and credentials observed from inside a busybox container
// (root): capabilities, ids and groups, a user namespace, rlimits,
// no_new_privs, umask, oom_score_adj; and failed launches that leave nothing.

#include <linux/capability.h>
#include <sys/resource.h>

#include <sstream>

#include "launcher/rootfs_test_util.hpp"

namespace berth::launcher {
namespace {

namespace fs = std::filesystem;

// The "Name:\tvalue" lines of /proc/self/status named in `names`, in file order.
std::string status_lines(const std::string& status, std::initializer_list<std::string> names) {
  std::string picked;
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    for (const auto& name : names) {
      if (line.starts_with(name + ":")) picked += line + "\n";
    }
  }
  return picked;
}

std::string squeeze_spaces(const std::string& text) {
  std::istringstream words(text);
  std::string out, word;
  while (words >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

using SecurityTest = testing::RootfsLaunchTest;

TEST_F(SecurityTest, CapabilitiesOfANonRootTask) {
  auto ran = sh("cat /proc/self/status", [](oci::Spec& s) {
    s.process.user = {1000, 1000, {}, {}};
    s.process.capabilities = oci::Capabilities{
        .bounding = {CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE},
        .effective = {CAP_NET_BIND_SERVICE},
        .inheritable = {CAP_NET_BIND_SERVICE},
        .permitted = {CAP_NET_BIND_SERVICE, CAP_KILL},
        .ambient = {CAP_NET_BIND_SERVICE},
    };
  });
  ASSERT_EQ(ran.code, 0) << ran.err;
  // Across execve a non-root task keeps its ambient set, as permitted and effective.
  EXPECT_EQ(status_lines(ran.out, {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}),
            "CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\n"
            "CapBnd:\t0000000000000421\nCapAmb:\t0000000000000400\n");
}

TEST_F(SecurityTest, ABoundingSetLimitsEvenRoot) {
  auto ran = sh("cat /proc/self/status", [](oci::Spec& s) {
    s.process.capabilities = oci::Capabilities{
        .bounding = {CAP_CHOWN}, .effective = {CAP_CHOWN}, .inheritable = {}, .permitted = {CAP_CHOWN}, .ambient = {}};
  });
  EXPECT_EQ(status_lines(ran.out, {"CapEff", "CapBnd"}), "CapEff:\t0000000000000001\nCapBnd:\t0000000000000001\n");
}

TEST_F(SecurityTest, UidGidAndAdditionalGroups) {
  auto ran = sh("id; cat /proc/self/status", [](oci::Spec& s) { s.process.user = {1000, 1001, {}, {20, 30}}; });
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(status_lines(ran.out, {"Uid", "Gid", "Groups"}),
            "Uid:\t1000\t1000\t1000\t1000\nGid:\t1001\t1001\t1001\t1001\nGroups:\t20 30 \n");
  EXPECT_EQ(ran.out.substr(0, ran.out.find('\n')), "uid=1000 gid=1001 groups=20,30");
}

TEST_F(SecurityTest, AUserNamespaceMapsRootToAnUnprivilegedHostUid) {
  ASSERT_EQ(::chown((rootfs_ / "tmp").c_str(), 100000, 100000), 0);  // the container's root owns its /tmp
  auto ran = sh("cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; "
                "stat -c '%t:%T' /dev/null; echo x > /dev/null && echo null-ok; touch /tmp/f && stat -c %u /tmp/f",
                [](oci::Spec& s) {
                  testing::add_namespaces(s, {CLONE_NEWUSER, CLONE_NEWNET});
                  s.linux_config.uid_mappings = {{0, 100000, 65536}};
                  s.linux_config.gid_mappings = {{0, 100000, 65536}};
                });
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(squeeze_spaces(ran.out), "0 100000 65536 0 100000 65536 deny 0 1:3 null-ok 0");
  struct stat st {};
  ASSERT_EQ(::stat((rootfs_ / "tmp/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
}

TEST_F(SecurityTest, AMappingTheKernelRefusesIsReportedAndLeavesNothing) {
  auto s = spec({"true"});
  testing::add_namespaces(s, {CLONE_NEWUSER, CLONE_NEWNET});
  s.linux_config.uid_mappings = {{0, 4294967295U, 1}};  // the host range wraps around
  s.linux_config.gid_mappings = {{0, 100000, 1}};
  auto error = launch_error(std::move(s));
  EXPECT_EQ(error.code(), EINVAL);
  EXPECT_TRUE(error.message().starts_with("linux.uidMappings: write")) << error.what();
  EXPECT_TRUE(error.path().ends_with("/uid_map")) << error.what();
}

TEST_F(SecurityTest, Rlimits) {
  auto ran = sh("grep -E 'Max (open files|core file size)' /proc/self/limits", [](oci::Spec& s) {
    s.process.rlimits = {{RLIMIT_NOFILE, 100, 200}, {RLIMIT_CORE, 0, 0}};
  });
  EXPECT_EQ(squeeze_spaces(ran.out), "Max core file size 0 0 bytes Max open files 100 200 files") << ran.err;
}

// Without CAP_SYS_RESOURCE a hard limit cannot be raised: a clean error, not a crash.
TEST_F(SecurityTest, RaisingAHardLimitFailsWithEperm) {
  rlimit current{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);
  auto s = spec({"true"});
  s.process.rlimits = {{RLIMIT_CORE, 0, 0}, {RLIMIT_NOFILE, 64, current.rlim_max + 1}};
  auto error = launch_error(std::move(s));
  EXPECT_EQ(error.message(), "setrlimit");
  EXPECT_EQ(error.code(), EPERM);
  EXPECT_EQ(error.path(), "RLIMIT_NOFILE");
}

TEST_F(SecurityTest, NoNewPrivsUmaskAndOomScoreAdj) {
  auto plain = sh("grep NoNewPrivs /proc/self/status");
  EXPECT_EQ(plain.out, "NoNewPrivs:\t0\n");
  auto ran = sh("grep NoNewPrivs /proc/self/status; umask; cat /proc/self/oom_score_adj", [](oci::Spec& s) {
    s.process.no_new_privileges = true;
    s.process.user.umask = 027;
    s.process.oom_score_adj = 500;  // raising needs no privilege, unlike lowering
  });
  EXPECT_EQ(ran.out, "NoNewPrivs:\t1\n0027\n500\n") << ran.err;
}

// The container's init is a copy of the launching process, with the host's
// capabilities and a descriptor of the runtime dir: the task, even as root
// but without CAP_SYS_PTRACE, must not get at it.
TEST_F(SecurityTest, TheTaskCannotReachIntoInit) {
  auto ran = sh("readlink /proc/1/exe || echo no-exe; readlink /proc/1/fd/4 || echo no-fd; "
                "cat /proc/1/environ >/dev/null 2>&1 || echo no-environ; grep -E 'CapEff|CapPrm' /proc/1/status",
                [](oci::Spec& s) {
                  s.process.capabilities = oci::Capabilities{.bounding = {CAP_KILL, CAP_NET_BIND_SERVICE},
                                                             .effective = {CAP_KILL, CAP_NET_BIND_SERVICE},
                                                             .inheritable = {},
                                                             .permitted = {CAP_KILL, CAP_NET_BIND_SERVICE},
                                                             .ambient = {}};
                });
  EXPECT_EQ(ran.out, "no-exe\nno-fd\nno-environ\nCapPrm:\t0000000000000020\nCapEff:\t0000000000000020\n") << ran.err;
}

// A thousand failures, in the child (execve after pivot_root, a mount) and
// in the parent (a refused uid map), leave no process, mount, fd (pipe,
// pidfd) or cgroup member behind; with none of those, no namespace survives.
TEST_F(SecurityTest, AThousandFailedLaunchesLeaveNothingBehind) {
  auto mounts_before = testing::count_lines(testing::slurp("/proc/self/mountinfo"));
  auto fds_before = testing::open_fd_count();
  auto missing_program = spec({"no-such-program"});
  auto missing_source = spec({"true"});
  missing_source.mounts.push_back({"/data", "bind", "/no/such/source", {"rbind"}});
  auto bad_map = spec({"true"});
  testing::add_namespaces(bad_map, {CLONE_NEWUSER, CLONE_NEWNET});
  bad_map.linux_config.uid_mappings = {{0, 4294967295U, 1}};
  bad_map.linux_config.gid_mappings = {{0, 100000, 1}};
  const oci::Spec* specs[] = {&missing_program, &missing_source, &bad_map};
  for (int i = 0; i < 1000; ++i) {
    auto launched = launch(*specs[i % 3]);
    ASSERT_FALSE(launched.has_value()) << i;
  }
  EXPECT_TRUE(testing::has_no_children());
  EXPECT_FALSE(testing::cgroup_populated(cgroup_));
  EXPECT_EQ(testing::slurp(cgroup_ / "cgroup.procs"), "");
  EXPECT_EQ(testing::count_lines(testing::slurp("/proc/self/mountinfo")), mounts_before);
  EXPECT_EQ(testing::open_fd_count(), fds_before);
  EXPECT_FALSE(fs::exists(sandbox_ / "exit_status"));
}

}  // namespace
}  // namespace berth::launcher
