// The classic-BPF interpreter the seccomp code checks programs with.

#include "berth/common/seccomp_bpf.hpp"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <vector>

namespace berth::seccomp_bpf {
namespace {

TEST(SeccompBpf, RunsWhatTheKernelRuns) {
  // (nr & 0xf0) | arg0's low word: stored, reloaded, tested bit by bit.
  std::vector<sock_filter> program{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)),
      BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
      BPF_STMT(BPF_ST, 3),
      BPF_STMT(BPF_LD | BPF_IMM, 0),
      BPF_STMT(BPF_LD | BPF_MEM, 3),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x100, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 1),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  seccomp_data data{};
  data.nr = 0x1234;
  data.args[0] = 0x5;
  EXPECT_EQ(run(program, data), 0x35u);
  data.args[0] = 0x105;
  EXPECT_EQ(run(program, data), 1u);
}

TEST(SeccompBpf, AllowsIsTrueOnlyWhenEveryCallIsAllowed) {
  // prctl allowed only for PR_SET_NO_NEW_PRIVS; getpid allowed; the rest EPERM; other arches killed.
  std::vector<sock_filter> program{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_NO_NEW_PRIVS, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
  };
  std::vector<Call> fine{{SYS_getpid}, {SYS_prctl, PR_SET_NO_NEW_PRIVS}};
  EXPECT_TRUE(allows(program, AUDIT_ARCH_X86_64, fine));
  std::vector<Call> drop{{SYS_getpid}, {SYS_prctl, PR_CAPBSET_DROP}};
  EXPECT_FALSE(allows(program, AUDIT_ARCH_X86_64, drop));
  EXPECT_FALSE(allows(program, AUDIT_ARCH_I386, fine));
}

}  // namespace
}  // namespace berth::seccomp_bpf
