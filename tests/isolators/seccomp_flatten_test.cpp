// The flattened syscall dispatch (seccomp_flatten.cpp): the same answer as
// libseccomp's program for every architecture, syscall number and argument
// the test can think of, in a fraction of the instructions; programs it does
// not model are left alone. The kernel's own answers under flattened
// programs are checked in seccomp_test.cpp and the escape suite.

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/syscall.h>

#include <random>

#include "berth/common/seccomp_bpf.hpp"
#include "berth/isolators/seccomp.hpp"
#include "berth/isolators/security.hpp"

namespace berth::isolators {
namespace {

using seccomp::flatten;
using seccomp_bpf::run;

// Compares the two programs on each architecture, on syscall numbers 0-1099,
// each constant either program holds and its neighbours, and random ones,
// with arguments drawn from the programs' constants, their halves of 64
// bits, and random values.
void expect_same(const std::vector<sock_filter>& original, const std::vector<sock_filter>& flattened) {
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> values{0, 1, ~0ull, 0xffffffffull, 1ull << 32};
  for (const auto& in : original) {
    values.push_back(in.k);
    values.push_back(std::uint64_t{in.k} << 32);
  }
  std::vector<std::uint32_t> numbers;
  for (std::uint32_t nr = 0; nr < 1100; ++nr) numbers.push_back(nr);
  for (const auto& in : original) {
    numbers.insert(numbers.end(), {in.k - 1, in.k, in.k + 1});
  }
  for (int i = 0; i < 200; ++i) numbers.push_back(static_cast<std::uint32_t>(random()));
  std::size_t checked = 0;
  for (std::uint32_t arch : {std::uint32_t{AUDIT_ARCH_X86_64}, std::uint32_t{AUDIT_ARCH_I386}, std::uint32_t{AUDIT_ARCH_AARCH64}, 0u}) {
    for (auto nr : numbers) {
      for (int round = 0; round < 8; ++round) {
        seccomp_data data{};
        data.arch = arch;
        data.nr = static_cast<int>(nr);
        data.instruction_pointer = random();
        for (auto& arg : data.args) {
          arg = random() % 4 == 0 ? random() : values[random() % values.size()];
        }
        ASSERT_EQ(run(original, data), run(flattened, data))
            << "arch " << std::hex << arch << " nr " << std::dec << nr << " arg0 " << data.args[0];
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 30000u);
}

TEST(SeccompFlatten, TheDefaultProfileIsAQuarterAsLongAndAnswersTheSame) {
  for (const auto& caps : {default_capabilities(), std::set<std::string>{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}}) {
    auto original = seccomp::compile(seccomp::default_profile(), caps, seccomp::Form::as_libseccomp_writes_it);
    ASSERT_TRUE(original) << original.error().what();
    auto flattened = flatten(original->instructions);
    ASSERT_TRUE(flattened);
    EXPECT_LT(flattened->size() * 3, original->instructions.size())
        << flattened->size() << " instructions from " << original->instructions.size();
    expect_same(original->instructions, *flattened);
    // What compile() gives by default.
    auto compiled = seccomp::compile(seccomp::default_profile(), caps);
    ASSERT_TRUE(compiled);
    EXPECT_EQ(compiled->instructions.size(), flattened->size());
  }
}

TEST(SeccompFlatten, TheDefaultProfileForThreeArchitecturesAnswersTheSame) {
  auto profile = seccomp::default_profile();
  profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  auto original = seccomp::compile(profile, default_capabilities(), seccomp::Form::as_libseccomp_writes_it);
  ASSERT_TRUE(original) << original.error().what();
  auto flattened = flatten(original->instructions);
  ASSERT_TRUE(flattened) << original->instructions.size() << " instructions";
  EXPECT_LT(flattened->size() * 2, original->instructions.size())
      << flattened->size() << " instructions from " << original->instructions.size();
  expect_same(original->instructions, *flattened);
}

// Few calls, scattered: one test per call is already as short as it gets,
// and the program stays as it is. Either way the answers are the same.
TEST(SeccompFlatten, ASparseProfileWithArgumentTestsIsLeftAloneOrAnswersTheSame) {
  auto profile = seccomp::parse_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
      {"names": ["read", "write", "exit_group", "close", "openat", "mmap", "futex", "getpid", "gettid"],
       "action": "SCMP_ACT_ALLOW"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
       "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_LE"}, {"index": 0, "value": 1, "op": "SCMP_CMP_GT"}]},
      {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
      {"names": ["uname"], "action": "SCMP_ACT_TRAP"}
    ]})", "test");
  ASSERT_TRUE(profile) << profile.error().what();
  auto original = seccomp::compile(*profile, {}, seccomp::Form::as_libseccomp_writes_it);
  ASSERT_TRUE(original) << original.error().what();
  auto compiled = seccomp::compile(*profile, {});
  ASSERT_TRUE(compiled);
  EXPECT_LE(compiled->instructions.size(), original->instructions.size());
  expect_same(original->instructions, compiled->instructions);
}

TEST(SeccompFlatten, ProgramsItDoesNotModelAreLeftAlone) {
  constexpr std::uint32_t kAllow = SECCOMP_RET_ALLOW, kDeny = SECCOMP_RET_ERRNO | EPERM;
  // Already one instruction.
  std::vector<sock_filter> allow{BPF_STMT(BPF_RET | BPF_K, kAllow)};
  EXPECT_FALSE(flatten(allow));
  // A bit test on the syscall number.
  std::vector<sock_filter> bits{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, kDeny),
      BPF_STMT(BPF_RET | BPF_K, kAllow),
  };
  EXPECT_FALSE(flatten(bits));
  // Arithmetic on the number.
  std::vector<sock_filter> arithmetic{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, kDeny),
      BPF_STMT(BPF_RET | BPF_K, kAllow),
  };
  EXPECT_FALSE(flatten(arithmetic));
}

TEST(SeccompFlatten, ALongListOfSingleNumbersBecomesRanges) {
  // 0-99 allowed one by one, as a list: 2 instructions per number.
  std::vector<sock_filter> list{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr))};
  for (std::uint32_t nr = 0; nr < 100; ++nr) {
    list.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
    list.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
  list.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  auto flattened = flatten(list);
  ASSERT_TRUE(flattened);
  EXPECT_EQ(flattened->size(), 4u) << "load, one test, two returns";
  expect_same(list, *flattened);
}

}  // namespace
}  // namespace berth::isolators
