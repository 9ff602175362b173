#pragma once
// What a container may do to the kernel: its capabilities, no_new_privs, its
// seccomp filter, and the parts of /proc and /sys it may not see or write.
//
// By default a root task holds Docker's fourteen capabilities (bounding,
// effective and permitted alike), a task running as another user holds none
// but keeps the same bounding set (one that asks for capabilities gets them
// as ambient capabilities, which survive its setuid and execve), no_new_privs is set, the default seccomp
// profile applies (seccomp.hpp), and the usual /proc and /sys paths are
// masked or made read-only.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "berth/isolators/isolator.hpp"
#include "berth/isolators/seccomp.hpp"

namespace berth::isolators {

// CAP_CHOWN and the rest: the kernel's numbers by name, and back.
std::optional<int> capability_number(std::string_view name);
std::string capability_name(int number);
// The capabilities a container gets unless told otherwise (Docker's set).
const std::set<std::string>& default_capabilities();

struct SecurityOptions {
  // Profiles by name: <dir>/<name>.json, in Docker's or the OCI JSON format.
  std::filesystem::path seccomp_config_dir = {};
  // The agent's profile: a name in seccomp_config_dir, empty for the
  // built-in default, or "unconfined" for no filter at all.
  std::string seccomp_profile_name = {};
  // Whether a task may run with no filter (berth.seccomp_profile=unconfined).
  bool allow_unconfined_tasks = false;
  // The most a task may ask for (Mesos's --bounding_capabilities); unset: no limit.
  std::optional<std::set<std::string>> max_capabilities = {};
  bool no_new_privileges = true;
};

class SecurityIsolator final : public Isolator {
 public:
  // Loads and compiles the agent's profile, so a bad one stops the agent.
  static Result<std::unique_ptr<SecurityIsolator>> create(SecurityOptions options);

  std::string_view name() const override { return "security"; }
  Result<LaunchInfo> prepare(const ContainerConfig& config) override;

  const seccomp::ProgramCache& programs() const { return programs_; }

 private:
  explicit SecurityIsolator(SecurityOptions options) : options_(std::move(options)) {}
  // The named profile (nullptr for "unconfined"), loaded once.
  Result<std::shared_ptr<const seccomp::Profile>> profile(const std::string& name);

  SecurityOptions options_;
  std::map<std::string, std::shared_ptr<const seccomp::Profile>> profiles_;
  seccomp::ProgramCache programs_;
};

}  // namespace berth::isolators
