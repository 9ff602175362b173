#include "berth/isolators/security.hpp"

#include <fmt/format.h>

#include <array>

#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"

namespace berth::isolators {
namespace {

// The kernel's capability numbers (linux/capability.h), by position.
constexpr std::array<std::string_view, 41> kCapabilityNames = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};

// Hidden from a container's own /proc and /sys: kernel memory, keys, timers
// and scheduler internals of the whole host, firmware tables.
const std::vector<std::string> kMaskedPaths = {
    "/proc/acpi",        "/proc/asound",      "/proc/kcore",
    "/proc/keys",        "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
    "/proc/timer_list",  "/proc/timer_stats", "/sys/firmware",    "/sys/devices/virtual/powercap"};

// Readable, not writable: kernel tunables and triggers of the whole host.
const std::vector<std::string> kReadonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger", "/sys"};

constexpr std::string_view kUnconfined = "unconfined";

std::vector<int> numbers(const std::set<std::string>& names) {
  std::vector<int> out;
  for (const auto& name : names) out.push_back(*capability_number(name));
  return out;
}

Result<void> check_names(const std::set<std::string>& names, std::string_view what) {
  for (const auto& name : names) {
    if (!capability_number(name)) return fail(fmt::format("{}: unknown capability '{}'", what, name));
  }
  return {};
}

}  // namespace

std::optional<int> capability_number(std::string_view name) {
  for (std::size_t i = 0; i < kCapabilityNames.size(); ++i) {
    if (kCapabilityNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string capability_name(int number) {
  if (number < 0 || static_cast<std::size_t>(number) >= kCapabilityNames.size()) return fmt::format("CAP_{}", number);
  return std::string(kCapabilityNames[static_cast<std::size_t>(number)]);
}

const std::set<std::string>& default_capabilities() {
  static const std::set<std::string> caps = {
      "CAP_AUDIT_WRITE", "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL",        "CAP_MKNOD",  "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
      "CAP_SETGID",      "CAP_SETPCAP", "CAP_SETUID",      "CAP_SYS_CHROOT"};
  return caps;
}

Result<std::unique_ptr<SecurityIsolator>> SecurityIsolator::create(SecurityOptions options) {
  if (options.max_capabilities) BERTH_TRY_VOID(check_names(*options.max_capabilities, "--bounding_capabilities"));
  std::unique_ptr<SecurityIsolator> isolator(new SecurityIsolator(std::move(options)));
  auto name = isolator->options_.seccomp_profile_name;
  BERTH_TRY(auto profile, with_context(isolator->profile(name), "--seccomp_profile_name"));
  if (profile) {
    BERTH_TRY_VOID(with_context(isolator->programs_.get(*profile, default_capabilities()),
                                "compiling seccomp profile '" + (name.empty() ? "default" : name) + "'"));
  }
  return isolator;
}

Result<std::shared_ptr<const seccomp::Profile>> SecurityIsolator::profile(const std::string& name) {
  if (name == kUnconfined) return std::shared_ptr<const seccomp::Profile>();
  if (auto it = profiles_.find(name); it != profiles_.end()) return it->second;
  std::shared_ptr<const seccomp::Profile> loaded;
  if (name.empty()) {
    loaded = std::shared_ptr<const seccomp::Profile>(&seccomp::default_profile(), [](const seccomp::Profile*) {});
  } else {
    if (!ids::is_safe_path_component(name)) return fail("seccomp profile name '" + name + "' is not a plain name");
    if (options_.seccomp_config_dir.empty()) {
      return fail("seccomp profile '" + name + "' asked for, but the agent has no --seccomp_config_dir");
    }
    auto path = options_.seccomp_config_dir / (name + ".json");
    BERTH_TRY(auto text, with_context(files::read(path), "seccomp profile '" + name + "'"));
    BERTH_TRY(auto parsed, seccomp::parse_profile(text, path.string()));
    loaded = std::make_shared<const seccomp::Profile>(std::move(parsed));
  }
  profiles_.emplace(name, loaded);
  return loaded;
}

Result<LaunchInfo> SecurityIsolator::prepare(const ContainerConfig& config) {
  const auto& task = config.security;
  LaunchInfo info;
  info.no_new_privileges = options_.no_new_privileges;
  info.masked_paths = kMaskedPaths;
  info.readonly_paths = kReadonlyPaths;

  // Mesos's semantics: the effective set as asked; the bounding set as asked,
  // or else the effective one.
  auto effective = task.effective_capabilities.value_or(default_capabilities());
  auto bounding = task.bounding_capabilities ? *task.bounding_capabilities
                  : task.effective_capabilities ? *task.effective_capabilities
                                                : default_capabilities();
  BERTH_TRY_VOID(check_names(effective, "effective capabilities"));
  BERTH_TRY_VOID(check_names(bounding, "bounding capabilities"));
  for (const auto& cap : effective) {
    if (!bounding.contains(cap)) {
      return fail("effective capability " + cap + " is not in the bounding set");
    }
  }
  if (options_.max_capabilities) {
    for (const auto& cap : bounding) {
      if (!options_.max_capabilities->contains(cap)) {
        return fail("capability " + cap + " is not allowed on this agent (--bounding_capabilities)");
      }
    }
  }
  CapabilitySets sets;
  sets.bounding = numbers(bounding);
  if (task.root) {
    sets.effective = numbers(effective);
    sets.permitted = sets.effective;
  } else if (task.effective_capabilities) {
    // A task running as another user keeps what it asked for across its
    // setuid and execve only as ambient capabilities (which must also be
    // permitted and inheritable); by default it holds none.
    sets.effective = numbers(effective);
    sets.permitted = sets.effective;
    sets.inheritable = sets.effective;
    sets.ambient = sets.effective;
  }
  info.capabilities = std::move(sets);

  if (task.seccomp_profile == kUnconfined && !options_.allow_unconfined_tasks) {
    return fail("seccomp profile 'unconfined' is not allowed for tasks on this agent (--seccomp_allow_unconfined)");
  }
  auto name = task.seccomp_profile.value_or(options_.seccomp_profile_name);
  BERTH_TRY(auto profile, profile(name));
  if (profile) {
    // Rules conditioned on a capability follow what the task may hold.
    BERTH_TRY(info.seccomp, with_context(programs_.get(*profile, bounding),
                                         "seccomp profile '" + (name.empty() ? "default" : name) + "'"));
  }
  return info;
}

}  // namespace berth::isolators
