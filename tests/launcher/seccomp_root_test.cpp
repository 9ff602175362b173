// A compiled seccomp filter handed to the launcher (root): the task runs
// under it, with or without no_new_privs, as root or as another uid; the
// container's setup itself is not filtered.

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

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
