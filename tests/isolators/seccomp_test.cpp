// Seccomp profiles: parsing Docker/OCI JSON with clear errors, compiling with
// libseccomp (checked by loading the program into a forked child, which needs
// no root under no_new_privs), the cache, and the security isolator's
// defaults.

#include "berth/isolators/seccomp.hpp"

#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include "berth/isolators/security.hpp"
#include "support/temp_dir.hpp"

namespace berth::isolators {
namespace {

using seccomp::parse_profile;

// Runs `attempt` in a child under `program`; returns the errno it reports
// (0 for success), or -1 if the child did not exit normally.
int errno_under(const seccomp::Program& program, const std::function<long()>& attempt) {
  pid_t child = ::fork();
  if (child == 0) {
    sock_fprog prog{static_cast<unsigned short>(program.instructions.size()),
                    const_cast<sock_filter*>(program.instructions.data())};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(200);
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) ::_exit(201);
    long result = attempt();
    ::_exit(result < 0 ? errno : 0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SeccompProfile, ADockerProfileParses) {
  auto profile = parse_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
      {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "",
       "includes": {}, "excludes": {}},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
       "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
       "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}], "includes": {"minKernel": "4.8"}}
    ]})",
                               "docker.json");
  ASSERT_TRUE(profile) << profile.error().what();
  EXPECT_EQ(profile->default_action, seccomp::Action::errno_code);
  EXPECT_EQ(profile->default_errno, 1);
  EXPECT_EQ(profile->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  ASSERT_EQ(profile->rules.size(), 5u);
  EXPECT_EQ(profile->rules[2].caps_required, std::vector<std::string>{"CAP_SYS_ADMIN"});
  EXPECT_EQ(profile->rules[3].args[0].op, seccomp::Compare::masked_equal);
  EXPECT_EQ(profile->rules[4].errno_code, 97);
  EXPECT_TRUE(seccomp::compile(*profile, {}).has_value());
}

TEST(SeccompProfile, BadProfilesAreRefusedNamingTheFieldAndTheValue) {
  auto error_of = [](std::string_view json) {
    auto profile = parse_profile(json, "p.json");
    return profile ? std::string("parsed") : profile.error().what();
  };
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]})"),
            "seccomp profile p.json: syscalls[0]: unknown syscall 'no_such_call'");
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_MAYBE"})"),
            "seccomp profile p.json: defaultAction: unknown action 'SCMP_ACT_MAYBE'");
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})"),
            "seccomp profile p.json: architectures: unknown architecture 'SCMP_ARCH_Z80'");
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]}]})"),
            "seccomp profile p.json: syscalls[0].args[0].op: unknown comparison 'SCMP_CMP_ROUGHLY'");
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
            "seccomp profile p.json: syscalls[0].args[0].index: must be 0-5");
  EXPECT_EQ(error_of(R"({"syscalls": []})"), "seccomp profile p.json: the profile: has no defaultAction");
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "surprise": 1})"),
            "seccomp profile p.json: the profile: unknown field 'surprise'");
  EXPECT_EQ(error_of(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]})"),
            "seccomp profile p.json: syscalls[0]: has no action");
  EXPECT_EQ(error_of("{not json"), "seccomp profile p.json: the file: is not JSON: syntax error");
}

TEST(SeccompProfile, TheDefaultProfileRefusesWhatReachesPastTheContainer) {
  auto program = seccomp::compile(seccomp::default_profile(), default_capabilities());
  ASSERT_TRUE(program) << program.error().what();
  EXPECT_EQ(errno_under(*program, [] { return ::syscall(SYS_getpid); }), 0);
  EXPECT_EQ(errno_under(*program, [] { return ::mount("none", "/mnt", "tmpfs", 0, nullptr); }), EPERM);
  EXPECT_EQ(errno_under(*program, [] { return ::unshare(CLONE_NEWUSER); }), EPERM);
  EXPECT_EQ(errno_under(*program, [] { return ::syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0); }), EPERM);
  EXPECT_EQ(errno_under(*program, [] { return ::syscall(SYS_clone3, nullptr, 0); }), ENOSYS)
      << "clone3 says ENOSYS so that the C library falls back to clone";
  EXPECT_EQ(errno_under(*program, [] { return ::syscall(SYS_keyctl, 0, 0, 0); }), EPERM);
  EXPECT_EQ(errno_under(*program, [] { return ::syscall(SYS_personality, 0x0); }), 0);
  EXPECT_EQ(errno_under(*program, [] { return ::syscall(SYS_personality, 0x0400000); }), EPERM)
      << "READ_IMPLIES_EXEC is not a harmless persona";
  // A plain fork (clone without namespace flags) works.
  EXPECT_EQ(errno_under(*program, [] {
              pid_t pid = ::fork();
              if (pid == 0) ::_exit(0);
              return static_cast<long>(::waitpid(pid, nullptr, 0));
            }),
            0);
}

TEST(SeccompProfile, CapabilityConditionedRulesFollowTheContainersCapabilities) {
  auto caps = default_capabilities();
  caps.insert("CAP_SYS_ADMIN");
  auto admin = seccomp::compile(seccomp::default_profile(), caps);
  ASSERT_TRUE(admin) << admin.error().what();
  // clone3 now reaches the kernel, which refuses a call without arguments.
  EXPECT_EQ(errno_under(*admin, [] { return ::syscall(SYS_clone3, nullptr, 0); }), EINVAL);
  auto plain = seccomp::compile(seccomp::default_profile(), default_capabilities());
  ASSERT_TRUE(plain);
  EXPECT_EQ(errno_under(*plain, [] { return ::syscall(SYS_clone3, nullptr, 0); }), ENOSYS);
}

TEST(SeccompProfile, CompiledProgramsAreCachedByProfileAndCapabilities) {
  seccomp::ProgramCache cache;
  auto first = cache.get(seccomp::default_profile(), default_capabilities());
  auto again = cache.get(seccomp::default_profile(), default_capabilities());
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->get(), again->get()) << "the second launch does not recompile";
  auto caps = default_capabilities();
  caps.insert("CAP_SYS_PTRACE");
  auto other = cache.get(seccomp::default_profile(), caps);
  ASSERT_TRUE(other);
  EXPECT_NE(first->get(), other->get());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(seccomp::libseccomp_version().empty());
}

TEST(Capabilities, NamesAndNumbersAreTheKernels) {
  EXPECT_EQ(capability_number("CAP_CHOWN"), 0);
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(capability_number("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(capability_number("CAP_NOPE"), std::nullopt);
  EXPECT_EQ(capability_name(13), "CAP_NET_RAW");
  EXPECT_EQ(default_capabilities().size(), 14u);
}

TEST(SecurityIsolator, DefaultsAreDockersCapabilitiesNoNewPrivsAndTheDefaultProfile) {
  auto isolator = SecurityIsolator::create({});
  ASSERT_TRUE(isolator) << isolator.error().what();
  auto root = (*isolator)->prepare({.container_id = "c1"});
  ASSERT_TRUE(root) << root.error().what();
  EXPECT_TRUE(root->no_new_privileges);
  ASSERT_TRUE(root->capabilities);
  EXPECT_EQ(root->capabilities->bounding.size(), 14u);
  EXPECT_EQ(root->capabilities->effective, root->capabilities->bounding);
  EXPECT_EQ(root->capabilities->permitted, root->capabilities->bounding);
  EXPECT_TRUE(root->capabilities->ambient.empty());
  ASSERT_TRUE(root->seccomp);
  EXPECT_NE(std::ranges::find(root->masked_paths, "/proc/kcore"), root->masked_paths.end());
  EXPECT_NE(std::ranges::find(root->readonly_paths, "/proc/sys"), root->readonly_paths.end());

  ContainerConfig user{.container_id = "c2"};
  user.security.root = false;
  auto as_user = (*isolator)->prepare(user);
  ASSERT_TRUE(as_user);
  EXPECT_TRUE(as_user->capabilities->effective.empty()) << "a non-root task holds no capability";
  EXPECT_EQ(as_user->capabilities->bounding.size(), 14u);
  EXPECT_EQ(as_user->seccomp.get(), root->seccomp.get()) << "one compiled program for both";

  user.security.effective_capabilities = std::set<std::string>{"CAP_NET_BIND_SERVICE"};
  auto binding = (*isolator)->prepare(user);
  ASSERT_TRUE(binding) << binding.error().what();
  EXPECT_EQ(binding->capabilities->ambient, std::vector<int>{10}) << "kept across setuid and execve";
  EXPECT_EQ(binding->capabilities->inheritable, std::vector<int>{10});
  EXPECT_EQ(binding->capabilities->effective, std::vector<int>{10});
}

TEST(SecurityIsolator, TasksChooseCapabilitiesAndProfilesWithinWhatIsValid) {
  berth::testing::TempDir dir;
  std::ofstream(dir.path() / "strict.json") << R"({"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": ["exit_group"], "action": "SCMP_ACT_ALLOW"}]})";
  auto isolator = SecurityIsolator::create({.seccomp_config_dir = dir.path()});
  ASSERT_TRUE(isolator) << isolator.error().what();

  ContainerConfig admin{.container_id = "c"};
  admin.security.effective_capabilities = std::set<std::string>{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"};
  auto prepared = (*isolator)->prepare(admin);
  ASSERT_TRUE(prepared) << prepared.error().what();
  EXPECT_EQ(prepared->capabilities->effective, (std::vector<int>{12, 21}));
  EXPECT_EQ(prepared->capabilities->bounding, (std::vector<int>{12, 21})) << "the bounding set follows";

  ContainerConfig too_much{.container_id = "c"};
  too_much.security.effective_capabilities = std::set<std::string>{"CAP_SYS_ADMIN"};
  too_much.security.bounding_capabilities = std::set<std::string>{"CAP_CHOWN"};
  EXPECT_EQ((*isolator)->prepare(too_much).error().what(),
            "effective capability CAP_SYS_ADMIN is not in the bounding set");

  ContainerConfig strict{.container_id = "c"};
  strict.security.seccomp_profile = "strict";
  auto with_strict = (*isolator)->prepare(strict);
  ASSERT_TRUE(with_strict) << with_strict.error().what();
  EXPECT_EQ(errno_under(*with_strict->seccomp, [] { return ::syscall(SYS_getpid); }), EPERM);

  ContainerConfig missing{.container_id = "c"};
  missing.security.seccomp_profile = "nope";
  auto error = (*isolator)->prepare(missing);
  ASSERT_FALSE(error);
  EXPECT_NE(error.error().what().find("seccomp profile 'nope'"), std::string::npos) << error.error().what();
  missing.security.seccomp_profile = "../etc/passwd";
  EXPECT_NE((*isolator)->prepare(missing).error().what().find("not a plain name"), std::string::npos);

  ContainerConfig unconfined{.container_id = "c"};
  unconfined.security.seccomp_profile = "unconfined";
  EXPECT_NE((*isolator)->prepare(unconfined).error().what().find("--seccomp_allow_unconfined"), std::string::npos);
  auto permissive = SecurityIsolator::create({.allow_unconfined_tasks = true});
  ASSERT_TRUE(permissive);
  EXPECT_EQ((*permissive)->prepare(unconfined)->seccomp, nullptr);
}

TEST(SecurityIsolator, TheAgentBoundsWhatTasksMayAskFor) {
  auto isolator = SecurityIsolator::create({.max_capabilities = default_capabilities()});
  ASSERT_TRUE(isolator) << isolator.error().what();
  EXPECT_TRUE((*isolator)->prepare({.container_id = "c"})) << "the default set is within the bound";
  ContainerConfig admin{.container_id = "c"};
  admin.security.effective_capabilities = std::set<std::string>{"CAP_SYS_ADMIN"};
  EXPECT_EQ((*isolator)->prepare(admin).error().what(),
            "capability CAP_SYS_ADMIN is not allowed on this agent (--bounding_capabilities)");
  EXPECT_FALSE(SecurityIsolator::create({.max_capabilities = std::set<std::string>{"CAP_FLY"}}));
}

TEST(SecurityIsolator, ABadAgentProfileStopsTheAgentWithItsReason) {
  berth::testing::TempDir dir;
  std::ofstream(dir.path() / "broken.json") << R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["fly"], "action": "SCMP_ACT_ALLOW"}]})";
  auto isolator = SecurityIsolator::create({.seccomp_config_dir = dir.path(), .seccomp_profile_name = "broken"});
  ASSERT_FALSE(isolator);
  EXPECT_NE(isolator.error().what().find("unknown syscall 'fly'"), std::string::npos) << isolator.error().what();
  EXPECT_NE(isolator.error().what().find("--seccomp_profile_name"), std::string::npos) << isolator.error().what();
}

}  // namespace
}  // namespace berth::isolators
