#include "berth/launcher/child_plan.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <gtest/gtest.h>

#include "launcher/launcher_test_util.hpp"

namespace berth::launcher {
namespace {

using testing::TempDir;

TEST(ExecCandidatesTest, ProgramWithASlashIsTriedAsGiven) {
  EXPECT_EQ(exec_candidates("/bin/true", {"PATH=/x"}), std::vector<std::string>{"/bin/true"});
  EXPECT_EQ(exec_candidates("./run.sh", {"PATH=/x"}), std::vector<std::string>{"./run.sh"});
}

TEST(ExecCandidatesTest, BareNameIsSearchedInPathFromEnv) {
  EXPECT_EQ(exec_candidates("sh", {"HOME=/", "PATH=/opt/bin:/bin"}),
            (std::vector<std::string>{"/opt/bin/sh", "/bin/sh"}));
}

TEST(ExecCandidatesTest, FirstPathDefinitionWins) {
  EXPECT_EQ(exec_candidates("sh", {"PATH=/a", "PATH=/b"}), std::vector<std::string>{"/a/sh"});
}

TEST(ExecCandidatesTest, EmptyPathElementMeansCurrentDirectory) {
  EXPECT_EQ(exec_candidates("run", {"PATH=/a::/b"}), (std::vector<std::string>{"/a/run", "./run", "/b/run"}));
}

TEST(ExecCandidatesTest, DefaultPathWithoutPathInEnv) {
  auto candidates = exec_candidates("sh", {"HOME=/"});
  ASSERT_FALSE(candidates.empty());
  EXPECT_EQ(candidates.front(), "/usr/local/sbin/sh");
  EXPECT_EQ(candidates.back(), "/bin/sh");
}

class ValidateTest : public ::testing::Test {
 protected:
  std::string error_of(const LaunchRequest& request) {
    auto valid = validate(request);
    return valid ? "valid" : valid.error().message();
  }

  TempDir dir_;
  LaunchRequest request_ = testing::basic_request(dir_, {"/bin/true"});
};

TEST_F(ValidateTest, AcceptsAWellFormedRequest) {
  testing::add_namespaces(request_.spec, {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC});
  request_.spec.hostname = "task-1";
  request_.spec.mounts.push_back({"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}});
  EXPECT_EQ(error_of(request_), "valid");
}

TEST_F(ValidateTest, RejectsEmptyArgs) {
  request_.spec.process.args.clear();
  EXPECT_EQ(error_of(request_), "process.args: must name the program to run (it is empty)");
}

TEST_F(ValidateTest, RejectsAHostnameWithoutUtsNamespace) {
  request_.spec.hostname = "task-1";
  EXPECT_EQ(error_of(request_), "hostname: set without a new uts namespace in linux.namespaces (it would rename the host)");
}

TEST_F(ValidateTest, JoinsOnlyWhatSetnsCanJoinAndRejectsATerminal) {
  request_.spec.linux_config.namespaces.push_back({CLONE_NEWNET, "/proc/1/ns/net"});
  EXPECT_EQ(error_of(request_), "valid");
  request_.spec.linux_config.namespaces = {{CLONE_NEWPID, "/proc/1/ns/pid"}};
  EXPECT_EQ(error_of(request_), "linux.namespaces[0].path: joining a pid namespace is not supported by this launcher "
                                "(network, uts, ipc and cgroup are)");
  request_.spec.linux_config.namespaces = {{CLONE_NEWUSER, ""}, {CLONE_NEWNET, "/proc/1/ns/net"}};
  request_.spec.linux_config.uid_mappings = {{0, 100000, 65536}};
  request_.spec.linux_config.gid_mappings = {{0, 100000, 65536}};
  EXPECT_EQ(error_of(request_),
            "linux.namespaces[1].path: joining a namespace together with a new user namespace is not supported");
  request_.spec.linux_config = {};
  request_.spec.process.terminal = true;
  EXPECT_EQ(error_of(request_), "process.terminal: a terminal is not supported by this launcher");
}

TEST_F(ValidateTest, RejectsARelativeRootfs) {
  testing::add_namespaces(request_.spec, {CLONE_NEWNS});
  request_.spec.root.path = "rootfs";
  EXPECT_EQ(error_of(request_), "root.path: 'rootfs' is not an absolute path");
}

TEST_F(ValidateTest, MountsNeedAMountNamespace) {
  request_.spec.mounts.push_back({"/proc", "proc", "proc", {}});
  EXPECT_EQ(error_of(request_), "mounts: needs a new mount namespace in linux.namespaces");
  request_.spec.mounts.clear();
  request_.spec.linux_config.masked_paths = {"/proc/kcore"};
  EXPECT_EQ(error_of(request_), "linux.maskedPaths: needs a new mount namespace in linux.namespaces");
  request_.spec.linux_config.masked_paths.clear();
  request_.spec.root.readonly = true;
  EXPECT_EQ(error_of(request_), "root.readonly: needs a new mount namespace in linux.namespaces");
}

TEST_F(ValidateTest, RejectsAnUnknownMountOption) {
  testing::add_namespaces(request_.spec, {CLONE_NEWNS});
  request_.spec.mounts.push_back({"/proc", "proc", "proc", {"nosuid"}});
  request_.spec.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodevv"}});
  EXPECT_EQ(error_of(request_), "mounts[1].options: unknown mount option 'nodevv'");
}

TEST_F(ValidateTest, RejectsABindWithoutSource) {
  testing::add_namespaces(request_.spec, {CLONE_NEWNS});
  request_.spec.mounts.push_back({"/data", "bind", "", {"rbind"}});
  EXPECT_EQ(error_of(request_), "mounts[0].source: a bind mount needs a source");
}

TEST_F(ValidateTest, RejectsBadIdMappings) {
  testing::add_namespaces(request_.spec, {CLONE_NEWUSER, CLONE_NEWNS});
  request_.spec.linux_config.uid_mappings = {{0, 100000, 0}};
  request_.spec.linux_config.gid_mappings = {{0, 100000, 65536}};
  EXPECT_EQ(error_of(request_), "linux.uidMappings[0].size: must be greater than 0");
}

TEST_F(ValidateTest, RejectsMissingPathsAndMalformedEnv) {
  auto inherited_stdout = request_;
  inherited_stdout.stdout_path.clear();  // keeps the caller's stdout
  EXPECT_EQ(error_of(inherited_stdout), "valid");
  auto nul_stdout = request_;
  nul_stdout.stdout_path = std::string("/tmp/a\0b", 8);
  EXPECT_EQ(error_of(nul_stdout), "stdout_path contains a NUL byte");
  auto bad_env = request_;
  bad_env.spec.process.env.push_back("NOEQUALS");
  EXPECT_FALSE(validate(bad_env).has_value());
  auto nul_arg = request_;
  nul_arg.spec.process.args.push_back(std::string("a\0b", 3));
  EXPECT_EQ(error_of(nul_arg), "process.args: contains a NUL byte");
}

TEST_F(ValidateTest, ChildPlanHoldsNullTerminatedArrays) {
  request_.spec.process.args = {"sh", "-c", "exit 3"};
  ChildPlan plan(request_);
  EXPECT_STREQ(plan.argv()[0], "sh");
  EXPECT_STREQ(plan.argv()[2], "exit 3");
  EXPECT_EQ(plan.argv()[3], nullptr);
  EXPECT_STREQ(plan.envp()[0], "PATH=/usr/bin:/bin");
  EXPECT_EQ(plan.envp()[2], nullptr);
  ASSERT_EQ(plan.exec_candidates().size(), 2u);
  EXPECT_STREQ(plan.exec_candidates()[1], "/bin/sh");
  EXPECT_STREQ(plan.stdout_path(), (dir_ / "stdout").c_str());
}

TEST_F(ValidateTest, FailuresNameTheirStepAndPath) {
  request_.spec.process.args = {"/no/such/cmd"};
  ChildPlan plan(request_);
  EXPECT_EQ(step_name(ChildStep::kExecve), "execve");
  EXPECT_EQ(plan.path_for(ChildStep::kExecve), "/no/such/cmd");
  EXPECT_EQ(step_name(ChildStep::kChdir), "chdir");
  EXPECT_EQ(plan.path_for(ChildStep::kChdir), dir_.path().string());
  EXPECT_EQ(step_name(ChildStep::kOpenStderr), "open stderr");
  EXPECT_EQ(plan.path_for(ChildStep::kOpenStderr), (dir_ / "stderr").string());
  EXPECT_EQ(plan.path_for(ChildStep::kIsolateFds), "");
}

TEST_F(ValidateTest, ListStepsNameTheFailingItem) {
  testing::add_namespaces(request_.spec, {CLONE_NEWNS});
  request_.spec.mounts = {{"/proc", "proc", "proc", {}}, {"/run/x/", "tmpfs", "tmpfs", {}}};
  request_.spec.process.rlimits = {{RLIMIT_NOFILE, 10, 10}, {RLIMIT_CORE, 0, 0}};
  ChildPlan plan(request_);
  EXPECT_EQ(step_name(ChildStep::kMountSpecMounts), "mount");
  EXPECT_EQ(plan.path_for(ChildStep::kMountSpecMounts, 1), "/run/x");
  EXPECT_EQ(plan.path_for(ChildStep::kMountSpecMounts, 7), "");
  EXPECT_EQ(plan.path_for(ChildStep::kSetRlimits, 1), "RLIMIT_CORE");
  EXPECT_EQ(step_name(ChildStep::kSetRlimits), "setrlimit");
}

TEST(ChildPlanHelpersTest, SysctlKeysBecomeProcPaths) {
  EXPECT_EQ(sysctl_path("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ(sysctl_path("net.ipv4.conf.eth0/100.forwarding"), "/proc/sys/net/ipv4/conf/eth0.100/forwarding");
}

TEST(ChildPlanHelpersTest, IdMapTextHasOneLinePerMapping) {
  EXPECT_EQ(id_map_text({{0, 100000, 65536}, {65536, 1000, 1}}), "0 100000 65536\n65536 1000 1\n");
  EXPECT_EQ(id_map_text({}), "");
}

TEST(ChildPlanHelpersTest, MountPointDirsAreCreatedOutermostFirst) {
  EXPECT_EQ(mount_point_dirs("/r", "/dev/pts"), (std::vector<std::string>{"/r/dev", "/r/dev/pts"}));
  EXPECT_EQ(mount_point_dirs("", "/proc"), (std::vector<std::string>{"/proc"}));
  EXPECT_EQ(mount_point_dirs("/r", "/a//./b/"), (std::vector<std::string>{"/r/a", "/r/a/b"}));
}

class ChildPlanRootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::add_namespaces(request_.spec, {CLONE_NEWNS, CLONE_NEWPID});
    request_.spec.root.path = rootfs_.path();
  }

  TempDir dir_;
  TempDir rootfs_;
  LaunchRequest request_ = testing::basic_request(dir_, {"/bin/true"});
};

TEST_F(ChildPlanRootfsTest, MountsGoUnderTheRootfsWithTheirFlagsParsed) {
  testing::write_text(dir_ / "file", "x");
  request_.spec.mounts = {{"/proc", "proc", "proc", {"nosuid", "noexec"}},
                          {"/etc/hosts", "bind", (dir_ / "file").string(), {"rbind", "ro"}}};
  ChildPlan plan(request_);
  ASSERT_EQ(plan.mounts().size(), 2u);
  const auto& proc = plan.mounts()[0];
  EXPECT_EQ(proc.target, (rootfs_ / "proc").string());
  EXPECT_EQ(proc.options.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  const auto& hosts = plan.mounts()[1];
  EXPECT_TRUE(hosts.file_target);
  EXPECT_EQ(hosts.dirs, std::vector<std::string>{(rootfs_ / "etc").string()});
  EXPECT_EQ(hosts.options.flags, static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_EQ(hosts.options.attr_set, static_cast<std::uint64_t>(MOUNT_ATTR_RDONLY));
  EXPECT_EQ(plan.root_propagation(), static_cast<unsigned long>(MS_PRIVATE | MS_REC));
}

TEST_F(ChildPlanRootfsTest, ARootfsGetsADevTmpfsShmAndTheDefaultDevices) {
  request_.spec.linux_config.devices = {{'c', "/dev/fuse", 10, 229, 0600, {}, {}}, {'c', "/dev/null", 1, 3, 0600, {}, {}}};
  ChildPlan plan(request_);
  ASSERT_TRUE(plan.dev_mount().has_value());
  EXPECT_EQ(plan.dev_mount()->target, (rootfs_ / "dev").string());
  EXPECT_EQ(plan.dev_mount()->options.data, "mode=755,size=65536k");
  ASSERT_TRUE(plan.shm_mount().has_value());
  EXPECT_EQ(plan.shm_mount()->options.data, "mode=1777,size=65536k");
  std::vector<std::string> paths;
  for (const auto& d : plan.devices()) paths.push_back(d.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
                                             "/dev/fuse", "/dev/null"}));
  EXPECT_EQ(plan.devices().back().mode, static_cast<mode_t>(S_IFCHR | 0600));
  EXPECT_EQ(plan.devices().back().rdev, makedev(1, 3));
  EXPECT_EQ(plan.dev_symlinks().back().link, (rootfs_ / "dev/ptmx").string());
  EXPECT_EQ(plan.path_for(ChildStep::kLinkDevSymlinks, 4), "/dev/ptmx");
}

TEST_F(ChildPlanRootfsTest, TheSpecsOwnDevMountsReplaceTheDefaults) {
  request_.spec.mounts = {{"/dev", "tmpfs", "tmpfs", {"mode=755"}}, {"/dev/shm", "tmpfs", "shm", {"mode=1777"}}};
  ChildPlan plan(request_);
  EXPECT_FALSE(plan.dev_mount().has_value());
  EXPECT_FALSE(plan.shm_mount().has_value());
  EXPECT_TRUE(plan.has_own_dev());
}

TEST_F(ValidateTest, HostRootKeepsTheHostsDev) {
  testing::add_namespaces(request_.spec, {CLONE_NEWNS});
  ChildPlan plan(request_);
  EXPECT_FALSE(plan.has_own_dev());
  EXPECT_FALSE(plan.dev_mount().has_value());
  EXPECT_FALSE(plan.shm_mount().has_value());
  EXPECT_TRUE(plan.devices().empty());
}

TEST_F(ValidateTest, CapabilitiesBecomeMasks) {
  request_.spec.process.capabilities = oci::Capabilities{{0, 1, 40}, {1}, {}, {1}, {}};
  ChildPlan plan(request_);
  ASSERT_TRUE(plan.capabilities().has_value());
  EXPECT_EQ(plan.capabilities()->bounding, (std::uint64_t{1} << 40) | 3U);
  EXPECT_EQ(plan.capabilities()->effective, 2U);
  EXPECT_EQ(plan.capabilities()->permitted, 2U);
  EXPECT_GE(plan.last_capability(), 36);
}

}  // namespace
}  // namespace berth::launcher
