#pragma once
// Seccomp profiles: the model, Docker's (and the OCI spec's) JSON format,
// Berth's built-in default profile, and compiling a profile with libseccomp
// into the BPF program the launcher loads. Compiled programs are cached by
// the profile's canonical text, the container's capabilities and the
// libseccomp version, so launches do not recompile.

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::isolators::seccomp {

enum class Action { allow, errno_code, kill_thread, kill_process, trap, trace, log };
enum class Compare { not_equal, less_than, less_equal, equal, greater_equal, greater_than, masked_equal };

struct ArgCondition {
  unsigned index = 0;  // 0-5
  std::uint64_t value = 0;      // the mask, for masked_equal
  std::uint64_t value_two = 0;  // the value the masked argument must have
  Compare op = Compare::equal;
};

// One entry of "syscalls": its action applies to `names` when the arguments
// match every condition, and only for containers holding all of
// `caps_required` and none of `caps_excluded` (CAP_* names).
struct Rule {
  std::vector<std::string> names = {};
  Action action = Action::allow;
  std::optional<int> errno_code = {};  // for Action::errno_code; default EPERM
  std::vector<ArgCondition> args = {};
  std::vector<std::string> caps_required = {};
  std::vector<std::string> caps_excluded = {};
};

struct Profile {
  Action default_action = Action::errno_code;
  std::optional<int> default_errno;  // default EPERM
  std::vector<std::string> architectures;  // SCMP_ARCH_* beyond the native one
  std::vector<Rule> rules;

  // The profile as one text (for cache keys and logs).
  std::string canonical() const;
};

// Parses a profile in Docker's or the OCI runtime spec's JSON format. Errors
// name the source and the field: an unknown action, comparison, architecture
// or syscall is an error, not skipped.
Result<Profile> parse_profile(std::string_view json, std::string_view source);

// The default profile: errno EPERM for anything not allowed; the usual
// allowlist (as Docker's default); mount, unshare, setns, bpf, perf, ptrace,
// module loading, kexec, reboot, clock setting, keyring calls and the like
// only with the capability that governs them, and clone with namespace flags
// only with CAP_SYS_ADMIN.
const Profile& default_profile();

struct Program {
  std::vector<sock_filter> instructions;
};

// Compiles `profile` for a container whose capabilities are `caps` (CAP_*
// names), flattened (below) unless `as_libseccomp_writes_it`.
enum class Form { flattened, as_libseccomp_writes_it };
Result<Program> compile(const Profile& profile, const std::set<std::string>& caps, Form form = Form::flattened);

// Compiled programs, kept for the life of the process.
class ProgramCache {
 public:
  Result<std::shared_ptr<const Program>> get(const Profile& profile, const std::set<std::string>& caps);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Program>> programs_;
};

// The program with its syscall dispatch (the tests on the architecture and
// the syscall number before any argument is read) rewritten as a balanced
// tree over ranges of syscall numbers that share an outcome: the same
// filter, shorter and quicker for the kernel to load (seccomp_flatten.cpp).
// nullopt if the program does something else before it reads an argument,
// would not come out shorter, or does not check out against the original.
std::optional<std::vector<sock_filter>> flatten(std::span<const sock_filter> program);

// libseccomp's token for an architecture named as profiles name it
// ("SCMP_ARCH_X86_64"); 0 if libseccomp knows no such architecture.
std::uint32_t architecture_token(std::string_view name);

// The libseccomp version this was built with, e.g. "2.5.4".
std::string libseccomp_version();

}  // namespace berth::isolators::seccomp
