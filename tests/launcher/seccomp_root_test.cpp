// A compiled seccomp filter handed to the launcher (root): the task runs
// under it, with or without no_new_privs, as root or as another uid; the
// container's setup itself is not filtered.

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include "berth/launcher/child_plan.hpp"
#include "launcher/rootfs_test_util.hpp"

namespace berth::launcher {
namespace {

namespace fs = std::filesystem;

// mkdir and mkdirat fail with EPERM, everything else is allowed; a foreign
// architecture is killed. Hand-assembled, as libseccomp would emit it.
std::shared_ptr<const SeccompProgram> deny_mkdir() {
  auto program = std::make_shared<SeccompProgram>();
  program->instructions = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  return program;
}

class SeccompTest : public testing::RootfsLaunchTest {
 protected:
  testing::Ran run_filtered(oci::Spec s) {
    fs::remove(sandbox_ / "stdout");
    fs::remove(sandbox_ / "stderr");
    auto r = request(std::move(s));
    r.seccomp = deny_mkdir();
    auto launched = launcher_.launch(r);
    if (!launched) {
      ADD_FAILURE() << launched.error().what();
      return {};
    }
    auto status = reap(launched->pidfd.get());
    return {status ? status->code : -1, testing::slurp(sandbox_ / "stdout"), testing::slurp(sandbox_ / "stderr")};
  }
  static constexpr char kScript[] =
      "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>/dev/null && echo made || echo denied; "
      "touch /tmp/f && echo touched";
};

TEST_F(SeccompTest, AFilteredRootTaskWithNoNewPrivs) {
  auto s = spec({"sh", "-c", kScript});
  s.process.no_new_privileges = true;
  auto ran = run_filtered(std::move(s));
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "Seccomp:\t2\ndenied\ntouched\n");
}

// Without no_new_privs the filter goes on before setresuid drops
// CAP_SYS_ADMIN, so an unprivileged task is filtered too.
TEST_F(SeccompTest, AFilteredNonRootTaskWithoutNoNewPrivs) {
  ASSERT_EQ(::chmod((rootfs_ / "tmp").c_str(), 01777), 0);
  auto s = spec({"sh", "-c", kScript});
  s.process.no_new_privileges = false;
  s.process.user = {1000, 1000, {}, {}};
  s.process.capabilities = oci::Capabilities{};
  auto ran = run_filtered(std::move(s));
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "Seccomp:\t2\ndenied\ntouched\n");
}

// A filter that allows what the task calls after it is loaded by the task
// started beside init's setup: the task is filtered, with its bounding set,
// in its working directory; and a step of init's setup that fails after the
// task started takes the task down with init.
TEST_F(SeccompTest, ATaskStartedBesideInitsSetupRunsWhereItShouldAndDiesWithAFailedSetup) {
  auto s = spec({"sh", "-c", "pwd; grep -e Seccomp: -e CapBnd: /proc/self/status"});
  s.process.cwd = "/tmp";
  s.process.no_new_privileges = true;
  s.process.capabilities = oci::Capabilities{.bounding = {CAP_KILL}, .effective = {CAP_KILL}, .inheritable = {},
                                             .permitted = {CAP_KILL}, .ambient = {}};
  auto r = request(s);
  r.seccomp = deny_mkdir();
  ChildPlan plan(r);
  ASSERT_TRUE(plan.task_forks_early());
  ASSERT_TRUE(plan.seccomp_early());
  auto ran = run_filtered(s);
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "/tmp\nCapBnd:\t0000000000000020\nSeccomp:\t2\n");

  auto broken = spec({"true"});
  broken.mounts.push_back({"/data", "bind", "/no/such/source", {"rbind"}});
  for (int i = 0; i < 200; ++i) {
    auto failing = request(broken);
    failing.seccomp = deny_mkdir();
    auto launched = launcher_.launch(failing);
    ASSERT_FALSE(launched);
    ASSERT_NE(launched.error().what().find("/data"), std::string::npos) << launched.error().what();
  }
  EXPECT_TRUE(testing::has_no_children());  // and TearDown: nothing in the cgroup
}

// One that does not (here: prctl refused) waits for the end of the setup, as before.
TEST_F(SeccompTest, AFilterThatRefusesTheTasksSetupIsLoadedLast) {
  auto program = std::make_shared<SeccompProgram>();
  program->instructions = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  auto s = spec({"sh", "-c", "grep Seccomp: /proc/self/status"});
  s.process.no_new_privileges = true;
  auto r = request(s);
  r.seccomp = program;
  EXPECT_FALSE(ChildPlan(r).seccomp_early());
  auto launched = launcher_.launch(r);
  ASSERT_TRUE(launched) << launched.error().what();
  auto status = reap(launched->pidfd.get());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(testing::slurp(sandbox_ / "stdout"), "Seccomp:\t2\n");
}

TEST_F(SeccompTest, WithoutAFilterNothingIsFiltered) {
  auto ran = sh(kScript);
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "Seccomp:\t0\nmade\ntouched\n");
}

TEST_F(SeccompTest, AFilterTheKernelRefusesIsAStructuredError) {
  auto r = request(spec({"true"}));
  auto bad = std::make_shared<SeccompProgram>();
  bad->instructions = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4096)};  // no return: the verifier refuses it
  r.seccomp = bad;
  auto launched = launcher_.launch(r);
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().message(), "load seccomp filter");
  EXPECT_EQ(launched.error().code(), EINVAL);
}

TEST_F(SeccompTest, AnEmptyFilterIsRejectedBeforeCloning) {
  auto r = request(spec({"true"}));
  r.seccomp = std::make_shared<SeccompProgram>();
  auto launched = launcher_.launch(r);
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().what(), "seccomp: a filter needs 1 to 4096 instructions, not 0");
}

}  // namespace
}  // namespace berth::launcher
