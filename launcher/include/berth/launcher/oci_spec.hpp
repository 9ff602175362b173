#pragma once
// The OCI runtime-spec configuration (config.json of a bundle) as the launcher
// consumes it: the process, the root filesystem, mounts, hostname and the
// Linux section. Resources and seccomp are applied through the isolators, so
// linux.resources and linux.seccomp are accepted but not modelled here.
//
// Field names follow the spec (opencontainers/runtime-spec config.md and
// config-linux.md); values are already decoded into what the child needs
// (namespace types as CLONE_NEW* flags, rlimit names as RLIMIT_* numbers,
// capability names as CAP_* numbers), so the child never parses text.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::launcher::oci {

struct User {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::optional<std::uint32_t> umask;
  std::vector<std::uint32_t> additional_gids;
};

// One capability set per field, each a list of CAP_* numbers.
struct Capabilities {
  std::vector<int> bounding;
  std::vector<int> effective;
  std::vector<int> inheritable;
  std::vector<int> permitted;
  std::vector<int> ambient;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_* ("RLIMIT_NOFILE" in config.json)
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

struct Process {
  bool terminal = false;
  User user;
  std::vector<std::string> args;  // args[0] absolute, or looked up in the PATH of env
  std::vector<std::string> env;   // "KEY=VALUE"
  std::string cwd = "/";          // absolute, inside the container
  std::optional<Capabilities> capabilities;  // absent: the runtime's default set is left untouched
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
};

struct Root {
  // Absolute (resolved against the bundle when relative in config.json).
  // Empty: the container keeps the host's root filesystem, which is how the
  // agent runs command tasks that name no image.
  std::filesystem::path path;
  bool readonly = false;
};

struct Mount {
  std::string destination;  // absolute, inside the container
  std::string type;         // "proc", "tmpfs", "bind" (or empty with a bind option), ...
  std::string source;
  std::vector<std::string> options;  // mount(8) style: "nosuid", "ro", "rbind", "mode=755", ...
};

struct Namespace {
  int type = 0;       // CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWCGROUP, CLONE_NEWTIME
  std::string path;   // non-empty: join this namespace (setns) instead of creating one
};

struct IdMapping {
  std::uint32_t container_id = 0;
  std::uint32_t host_id = 0;
  std::uint32_t size = 0;
};

struct Device {
  char type = 'c';  // 'c', 'b', 'u' (unbuffered char) or 'p' (fifo)
  std::string path;  // absolute, inside the container
  std::int64_t major = 0;
  std::int64_t minor = 0;
  std::optional<std::uint32_t> file_mode;
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::vector<Device> devices;
  std::map<std::string, std::string> sysctl;
  std::string cgroups_path;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string rootfs_propagation;  // "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"

  // The CLONE_NEW* flags of the namespaces to create (those without a path).
  int new_namespace_flags() const;
  bool has_namespace(int type) const;
};

struct Spec {
  std::string oci_version;
  Process process;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Linux linux_config;  // "linux" in config.json (a predefined macro in GNU C++ modes)
  std::map<std::string, std::string> annotations;
};

// Parses config.json text. Relative root.path is resolved against `bundle`.
// Errors name the offending field by its JSON path, e.g.
// "config.json: linux.namespaces[2].type: unknown namespace type 'pidd'".
Result<Spec> parse_spec(std::string_view json, const std::filesystem::path& bundle);

// Reads and parses <bundle>/config.json.
Result<Spec> load_bundle(const std::filesystem::path& bundle);

// Checks a Spec for what parsing cannot see: absolute paths where the spec
// requires them, a hostname only with a new UTS namespace, id mappings only
// with a user namespace, a root path that exists and is a directory, a
// non-empty args, and so on. Errors name the field.
Result<void> validate(const Spec& spec);

// The spec's text for a CLONE_NEW* flag ("pid", "network", ...) and back.
std::string_view namespace_name(int clone_flag);
std::optional<int> namespace_flag(std::string_view name);

}  // namespace berth::launcher::oci
