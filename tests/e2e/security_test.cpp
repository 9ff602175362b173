// The escape suite: from inside a container run with the agent's defaults
// (Docker's capability set, no_new_privs, the default seccomp profile,
// masked and read-only /proc and /sys paths, the device cgroup), every way
// out that escape_probe tries fails with the expected error and leaves the
// host as it was, while ordinary work still works.

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "support/cluster_test.hpp"
#include "support/temp_dir.hpp"

namespace berth::testing {
namespace {

using EscapeTest = ClusterTest;

struct Attempt {
  std::string outcome;  // "ok" or an errno name
  std::string detail;
};

std::map<std::string, Attempt> attempts(const std::string& out) {
  std::map<std::string, Attempt> result;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    Attempt attempt;
    words >> name >> attempt.outcome;
    std::getline(words >> std::ws, attempt.detail);
    result[name] = attempt;
  }
  return result;
}

std::size_t host_mounts() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::size_t lines = 0;
  for (std::string line; std::getline(mountinfo, line);) ++lines;
  return lines;
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

TEST_F(EscapeTest, EveryWayOutFailsAndTheHostIsUntouched) {
  ASSERT_TRUE(std::filesystem::exists("/dev/vda")) << "the probe opens the host's disk";
  auto mounts_before = host_mounts();
  auto name_before = host_name();
  auto result = cluster_.run({"--quiet", "--", BERTH_ESCAPE_PROBE, std::to_string(::getpid()), "/dev/vda"});
  ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
  auto seen = attempts(result.out);

  // What the container holds.
  EXPECT_EQ(seen["fds"].detail, "count=3") << "only stdin, stdout and stderr are inherited";
  EXPECT_EQ(seen["no_new_privs"].detail, "value=1");
  EXPECT_EQ(seen["cap_eff"].detail, "value=00000000a80425fb") << "Docker's fourteen capabilities";
  EXPECT_EQ(seen["cap_bnd"].detail, "value=00000000a80425fb");
  EXPECT_EQ(seen["seccomp_mode"].detail, "value=2") << "a seccomp filter";
  EXPECT_TRUE(seen["cwd"].detail.starts_with("path=/") && seen["cwd"].detail.ends_with("/sandbox"))
      << seen["cwd"].outcome << " " << seen["cwd"].detail;
  EXPECT_NE(seen["write_init_exe"].outcome, "ok") << "the runtime binary must not be writable from inside";

  const std::map<std::string, std::string> refused = {
      {"mount", "EPERM"},           {"umount", "EPERM"},         {"unshare_mnt", "EPERM"},
      {"unshare_user", "EPERM"},    {"clone_newns", "EPERM"},    {"setns", "EPERM"},
      {"pivot_root", "EPERM"},      {"ptrace_attach", "EPERM"},  {"kill_host", "ESRCH"},
      {"init_module", "EPERM"},     {"finit_module", "EPERM"},   {"bpf", "EPERM"},
      {"keyctl", "EPERM"},          {"add_key", "EPERM"},        {"perf_event_open", "EPERM"},
      {"reboot", "EPERM"},          {"clock_settime", "EPERM"},  {"settimeofday", "EPERM"},
      {"kexec_load", "EPERM"},      {"write_proc_sys", "EROFS"},
      {"write_sys", "EROFS"},       {"mknod_block", "EPERM"},    {"open_host_disk", "EPERM"},
      {"raise_rlimit", "EPERM"}};
  for (const auto& [name, expected] : refused) {
    EXPECT_EQ(seen[name].outcome, expected) << name << " " << seen[name].detail << "\n" << result.out;
  }
  // Read-only, and masked (empty files and directories), where this kernel has them.
  auto present = [](const char* path) { return std::filesystem::exists(path); };
  EXPECT_EQ(seen["write_sysrq"].outcome, present("/proc/sysrq-trigger") ? "EROFS" : "ENOENT");
  EXPECT_EQ(seen["read_kcore"].outcome + " " + seen["read_kcore"].detail,
            present("/proc/kcore") ? "ok bytes=0" : "ENOENT ");
  for (const auto* name : {"read_keys", "read_timer_list"}) {
    EXPECT_EQ(seen[name].outcome + " " + seen[name].detail, "ok bytes=0") << name;
  }
  EXPECT_EQ(seen["list_sys_firmware"].outcome + " " + seen["list_sys_firmware"].detail, "ok entries=0");
  // Ordinary work.
  for (const auto* name : {"pipe", "fork_exec", "socket"}) EXPECT_EQ(seen[name].outcome, "ok") << name;

  // The host is as it was.
  EXPECT_EQ(host_mounts(), mounts_before);
  EXPECT_EQ(host_name(), name_before);
  EXPECT_FALSE(std::filesystem::exists("/tmp/berth-escape-blk"));
  EXPECT_EQ(::kill(::getpid(), 0), 0);
}

// Runs `argv` as nobody outside any container and returns its stdout.
std::string run_as_nobody(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe(out) != 0) return "pipe failed";
  pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buffer[256];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  return text;
}

TEST_F(EscapeTest, ATaskRunsAsItsUserAndGainsNothingFromASetuidRootBinary) {
  // A setuid-root copy of the probe that nobody may run.
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  auto suid = dir.path() / "suid-probe";
  std::filesystem::copy_file(BERTH_ESCAPE_PROBE, suid);
  ASSERT_EQ(::chown(suid.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(suid.c_str(), 04755), 0);
  // Outside a container the bit takes: the test can tell.
  ASSERT_EQ(run_as_nobody({suid.string(), "--ids"}), "uid 65534 euid 0\n");

  auto ids = cluster_.run({"--user=nobody", "--quiet", "--", suid.string(), "--ids"});
  EXPECT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out, "uid 65534 euid 65534\n") << "no_new_privs keeps the set-user-id bit from taking";

  auto probe = cluster_.run({"--user=nobody", "--quiet", "--", BERTH_ESCAPE_PROBE, std::to_string(::getpid())});
  auto seen = attempts(probe.out);
  EXPECT_EQ(seen["cap_eff"].detail, "value=0000000000000000") << "a task not running as root holds no capability";
  EXPECT_EQ(seen["cap_bnd"].detail, "value=00000000a80425fb");
  EXPECT_EQ(seen["mount"].outcome, "EPERM");

  auto sandbox = cluster_.run({"--user=nobody", "--shell", "--", "echo hi > $MESOS_SANDBOX/f && id -u"});
  EXPECT_EQ(sandbox.exit_code, 0) << sandbox.err;
  EXPECT_EQ(sandbox.out, "65534\n") << "the task writes its own sandbox";

  auto unknown = cluster_.run({"--user=no-such-user", "--", "/bin/true"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("user 'no-such-user' does not exist on this agent"), std::string::npos) << unknown.err;
}

TEST_F(EscapeTest, BenignShellWorkStillWorks) {
  auto result = cluster_.run(
      {"--shell", "--", "set -e; seq 1 100 | sort -rn | head -1; echo hi > $MESOS_SANDBOX/f; cat $MESOS_SANDBOX/f; "
                        "sh -c 'exit 0'; ls /proc/self/fd >/dev/null"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "100\nhi\n") << result.err;
}

// An agent with a directory of profiles; tasks choose a profile and their capabilities.
class TaskSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    // Everything allowed but making directories.
    std::ofstream(profiles_.path() / "nomkdir.json") << R"({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]})";
    cluster_ = std::make_unique<Cluster>(
        Cluster::Options{.master_flags = {}, .agent_flags = {"--seccomp_config_dir=" + profiles_.path().string()}});
    cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }
  void TearDown() override {
    if (cluster_ && !::testing::Test::IsSkipped()) cluster_->check_no_leaks();
  }
  TempDir profiles_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(TaskSecurityTest, ATaskRunsUnderTheProfileItNames) {
  auto denied = cluster_->run({"--seccomp_profile=nomkdir", "--shell", "--", "mkdir $MESOS_SANDBOX/d"});
  EXPECT_NE(denied.exit_code, 0) << denied.err;
  EXPECT_NE(denied.err.find("Permission denied"), std::string::npos) << denied.err;  // errnoRet 13
  auto allowed = cluster_->run({"--shell", "--", "mkdir $MESOS_SANDBOX/d && echo made"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(allowed.out, "made\n");
  auto missing = cluster_->run({"--seccomp_profile=nosuch", "--", "/bin/true"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("seccomp profile 'nosuch'"), std::string::npos) << missing.err;
}

TEST_F(TaskSecurityTest, ATaskGetsTheCapabilitiesItAsksFor) {
  // Without CAP_SYS_ADMIN neither the filter nor the kernel lets it unshare.
  auto refused = cluster_->run({"--", "/usr/bin/unshare", "--mount", "/bin/true"});
  EXPECT_NE(refused.exit_code, 0) << refused.err;
  EXPECT_NE(refused.err.find("Operation not permitted"), std::string::npos) << refused.err;
  auto admin = cluster_->run({"--capabilities=CAP_SYS_ADMIN", "--", "/usr/bin/unshare", "--mount", "/bin/true"});
  EXPECT_EQ(admin.exit_code, 0) << admin.err;
  // And the effective set is exactly what was asked for.
  auto caps = cluster_->run({"--capabilities=NET_ADMIN,CAP_CHOWN", "--shell", "--", "grep CapEff /proc/self/status"});
  EXPECT_EQ(caps.exit_code, 0) << caps.err;
  EXPECT_NE(caps.out.find("0000000000001001"), std::string::npos) << caps.out;  // bits 0 and 12
  auto none = cluster_->run({"--capabilities=none", "--shell", "--", "grep CapEff /proc/self/status"});
  EXPECT_NE(none.out.find("0000000000000000"), std::string::npos) << none.out << none.err;
}

// An agent that gives every container its own user namespace.
class UserNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    cluster_ = std::make_unique<Cluster>(Cluster::Options{
        .master_flags = {}, .agent_flags = {"--user_namespaces", "--user_namespace_ids=700000:262144"}});
    cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }
  void TearDown() override {
    if (cluster_ && !::testing::Test::IsSkipped()) cluster_->check_no_leaks();
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(UserNamespaceTest, AContainersRootIsAnUnprivilegedHostIdOfItsOwn) {
  auto mapped = cluster_->run({"--shell", "--",
                               "cat /proc/self/uid_map; id -u; echo made > $MESOS_SANDBOX/f; cat /etc/shadow"});
  // uid 0 inside, 700000.. outside; the sandbox is its own; host root's files are not.
  EXPECT_NE(mapped.exit_code, 0) << "reading /etc/shadow must fail";
  std::istringstream map(mapped.out);
  std::uint64_t inside = 1, outside = 0, count = 0;
  map >> inside >> outside >> count;
  EXPECT_EQ(inside, 0u) << mapped.out;
  EXPECT_EQ(count, 65536u) << mapped.out;
  EXPECT_TRUE(outside >= 700000 && outside < 700000 + 262144 && (outside - 700000) % 65536 == 0) << mapped.out;
  EXPECT_NE(mapped.out.find("\n0\n"), std::string::npos) << "root inside: " << mapped.out;
  EXPECT_NE(mapped.err.find("Permission denied"), std::string::npos) << mapped.err;
  // The file it wrote belongs to its range on the host.
  bool found = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(cluster_->dir())) {
    if (entry.path().filename() != "f" || entry.path().parent_path().filename() != "sandbox") continue;
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, outside);
    found = true;
  }
  EXPECT_TRUE(found);

  // A task may opt out; an image task may not opt in yet, and says why.
  auto host = cluster_->run({"--label", "berth.user_namespace=false", "--shell", "--", "cat /proc/self/uid_map"});
  EXPECT_NE(host.out.find("4294967295"), std::string::npos) << "the host's own map: " << host.out;
  auto leases = cluster_->dir() / "agent" / "userns";
  ASSERT_TRUE(std::filesystem::is_directory(leases));
  EXPECT_TRUE(std::filesystem::is_empty(leases)) << "every lease is freed with its container";
}

TEST(AgentSecurityFlags, AnAgentWithABrokenProfileDoesNotStartAndSaysWhy) {
  BERTH_REQUIRE_ROOT();
  TempDir profiles;
  std::ofstream(profiles.path() / "broken.json") << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["teleport"], "action": "SCMP_ACT_ERRNO"}]})";
  Cluster cluster(Cluster::Options{.master_flags = {}, .agent_flags = {"--seccomp_config_dir=" + profiles.path().string(),
                                                   "--seccomp_profile_name=broken"}});
  cluster.start_master();
  cluster.start_agent();
  EXPECT_FALSE(cluster.wait_for_agent(std::chrono::seconds(5)));
  EXPECT_NE(cluster.agent_log().find("unknown syscall 'teleport'"), std::string::npos) << cluster.agent_log();
}

}  // namespace
}  // namespace berth::testing
