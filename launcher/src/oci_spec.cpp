#include "berth/launcher/oci_spec.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <system_error>
#include <type_traits>
#include <utility>

#include "berth/common/files.hpp"

namespace berth::launcher::oci {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// ---------------------------------------------------------------------------
// Decoding JSON values, with errors naming the field by its JSON path.

std::unexpected<Error> field_error(std::string_view path, std::string_view what) {
  return fail("config.json: " + std::string(path) + ": " + std::string(what));
}

std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string member_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string element_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Result<std::string> as_string(const json::value& v, const std::string& path) {
  if (!v.is_string()) return field_error(path, "expected a string");
  std::string_view text = v.get_string();
  // Every string here ends up in a system call, which would silently cut it at the NUL.
  if (text.find('\0') != std::string_view::npos) return field_error(path, "expected a string without NUL characters");
  return std::string(text);
}

Result<bool> as_bool(const json::value& v, const std::string& path) {
  if (!v.is_bool()) return field_error(path, "expected true or false");
  return v.get_bool();
}

// Integers only: 1.0 and 1e3 are doubles in JSON parsers, and Go (whose
// runtimes wrote most config.json files) rejects them for integer fields too.
template <typename T>
Result<T> as_integer(const json::value& v, const std::string& path, T min, T max, std::string_view expected) {
  auto in_range = [&](auto n) { return std::cmp_greater_equal(n, min) && std::cmp_less_equal(n, max); };
  if (v.is_int64() && in_range(v.get_int64())) return static_cast<T>(v.get_int64());
  if (v.is_uint64() && in_range(v.get_uint64())) return static_cast<T>(v.get_uint64());
  return field_error(path, "expected " + std::string(expected));
}

Result<std::uint32_t> as_u32(const json::value& v, const std::string& path) {
  return as_integer<std::uint32_t>(v, path, 0, std::numeric_limits<std::uint32_t>::max(),
                                   "a non-negative integer below 2^32");
}

Result<std::uint64_t> as_u64(const json::value& v, const std::string& path) {
  return as_integer<std::uint64_t>(v, path, 0, std::numeric_limits<std::uint64_t>::max(),
                                   "a non-negative integer below 2^64");
}

Result<std::int64_t> as_i64(const json::value& v, const std::string& path) {
  return as_integer<std::int64_t>(v, path, std::numeric_limits<std::int64_t>::min(),
                                  std::numeric_limits<std::int64_t>::max(), "a 64-bit signed integer");
}

// Array of T, each element decoded by `decode` with its index in the path.
template <typename Decode>
auto array_of(Decode decode) {
  using Element = typename std::invoke_result_t<Decode, const json::value&, const std::string&>::value_type;
  return [decode](const json::value& v, const std::string& path) -> Result<std::vector<Element>> {
    if (!v.is_array()) return field_error(path, "expected an array");
    std::vector<Element> out;
    out.reserve(v.get_array().size());
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
      BERTH_TRY(auto element, decode(v.get_array()[i], element_path(path, i)));
      out.push_back(std::move(element));
    }
    return out;
  };
}

// A JSON object being decoded. Absent members and members set to null (as Go
// writes nil slices) are the same: the field keeps its default. Unknown
// members are ignored, as the spec asks of extensions.
class Object {
 public:
  static Result<Object> of(const json::value& v, std::string path) {
    if (!v.is_object()) return field_error(path, "expected an object");
    return Object(v.get_object(), std::move(path));
  }

  const json::value* find(std::string_view key) const {
    const json::value* v = object_->if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }
  std::string path(std::string_view key) const { return member_path(path_, key); }

  template <typename Decode, typename T>
  Result<void> optional(std::string_view key, Decode decode, T& out) const {
    const json::value* v = find(key);
    if (v == nullptr) return {};
    BERTH_TRY(out, decode(*v, path(key)));
    return {};
  }

  template <typename Decode, typename T>
  Result<void> required(std::string_view key, Decode decode, T& out) const {
    if (find(key) == nullptr) return field_error(path(key), "required field is missing");
    return optional(key, decode, out);
  }

 private:
  Object(const json::object& object, std::string path) : object_(&object), path_(std::move(path)) {}
  const json::object* object_;
  std::string path_;
};

// ---------------------------------------------------------------------------
// Names of kernel constants as config.json spells them.

struct Named {
  std::string_view name;
  int value;
};

// The name next to the value, spelled once so the two cannot disagree.
#define NAMED(constant) Named{#constant, constant}

// As in <linux/capability.h>, up to CAP_CHECKPOINT_RESTORE (Linux 5.9).
constexpr std::array<Named, 41> kCapabilities = {
    NAMED(CAP_CHOWN), NAMED(CAP_DAC_OVERRIDE), NAMED(CAP_DAC_READ_SEARCH), NAMED(CAP_FOWNER), NAMED(CAP_FSETID),
    NAMED(CAP_KILL), NAMED(CAP_SETGID), NAMED(CAP_SETUID), NAMED(CAP_SETPCAP), NAMED(CAP_LINUX_IMMUTABLE),
    NAMED(CAP_NET_BIND_SERVICE), NAMED(CAP_NET_BROADCAST), NAMED(CAP_NET_ADMIN), NAMED(CAP_NET_RAW),
    NAMED(CAP_IPC_LOCK), NAMED(CAP_IPC_OWNER), NAMED(CAP_SYS_MODULE), NAMED(CAP_SYS_RAWIO), NAMED(CAP_SYS_CHROOT),
    NAMED(CAP_SYS_PTRACE), NAMED(CAP_SYS_PACCT), NAMED(CAP_SYS_ADMIN), NAMED(CAP_SYS_BOOT), NAMED(CAP_SYS_NICE),
    NAMED(CAP_SYS_RESOURCE), NAMED(CAP_SYS_TIME), NAMED(CAP_SYS_TTY_CONFIG), NAMED(CAP_MKNOD), NAMED(CAP_LEASE),
    NAMED(CAP_AUDIT_WRITE), NAMED(CAP_AUDIT_CONTROL), NAMED(CAP_SETFCAP), NAMED(CAP_MAC_OVERRIDE),
    NAMED(CAP_MAC_ADMIN), NAMED(CAP_SYSLOG), NAMED(CAP_WAKE_ALARM), NAMED(CAP_BLOCK_SUSPEND), NAMED(CAP_AUDIT_READ),
    NAMED(CAP_PERFMON), NAMED(CAP_BPF), NAMED(CAP_CHECKPOINT_RESTORE)};

constexpr std::array<Named, 16> kRlimits = {
    NAMED(RLIMIT_CPU), NAMED(RLIMIT_FSIZE), NAMED(RLIMIT_DATA), NAMED(RLIMIT_STACK), NAMED(RLIMIT_CORE),
    NAMED(RLIMIT_RSS), NAMED(RLIMIT_NPROC), NAMED(RLIMIT_NOFILE), NAMED(RLIMIT_MEMLOCK), NAMED(RLIMIT_AS),
    NAMED(RLIMIT_LOCKS), NAMED(RLIMIT_SIGPENDING), NAMED(RLIMIT_MSGQUEUE), NAMED(RLIMIT_NICE), NAMED(RLIMIT_RTPRIO),
    NAMED(RLIMIT_RTTIME)};

#undef NAMED

// The spec's namespace types.
constexpr std::array<Named, 8> kNamespaces = {{{"pid", CLONE_NEWPID},
                                               {"network", CLONE_NEWNET},
                                               {"mount", CLONE_NEWNS},
                                               {"ipc", CLONE_NEWIPC},
                                               {"uts", CLONE_NEWUTS},
                                               {"user", CLONE_NEWUSER},
                                               {"cgroup", CLONE_NEWCGROUP},
                                               {"time", CLONE_NEWTIME}}};

constexpr std::array<std::string_view, 8> kPropagations = {
    "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};

template <std::size_t N>
std::optional<int> lookup(const std::array<Named, N>& table, std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

template <std::size_t N>
std::string_view name_of(const std::array<Named, N>& table, int value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return {};
}

// ---------------------------------------------------------------------------
// The sections of config.json.

Result<int> decode_capability(const json::value& v, const std::string& path) {
  BERTH_TRY(auto name, as_string(v, path));
  auto capability = lookup(kCapabilities, name);
  if (!capability) return field_error(path, "unknown capability " + single_quoted(name));
  return *capability;
}

Result<Capabilities> decode_capabilities(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  Capabilities caps;
  auto names = array_of(decode_capability);
  BERTH_TRY_VOID(object.optional("bounding", names, caps.bounding));
  BERTH_TRY_VOID(object.optional("effective", names, caps.effective));
  BERTH_TRY_VOID(object.optional("inheritable", names, caps.inheritable));
  BERTH_TRY_VOID(object.optional("permitted", names, caps.permitted));
  BERTH_TRY_VOID(object.optional("ambient", names, caps.ambient));
  return caps;
}

Result<int> decode_rlimit_type(const json::value& v, const std::string& path) {
  BERTH_TRY(auto name, as_string(v, path));
  auto resource = lookup(kRlimits, name);
  if (!resource) return field_error(path, "unknown rlimit type " + single_quoted(name));
  return *resource;
}

Result<Rlimit> decode_rlimit(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  Rlimit limit;
  BERTH_TRY_VOID(object.required("type", decode_rlimit_type, limit.resource));
  BERTH_TRY_VOID(object.required("soft", as_u64, limit.soft));
  BERTH_TRY_VOID(object.required("hard", as_u64, limit.hard));
  if (limit.soft > limit.hard) {
    return field_error(path, "soft limit " + std::to_string(limit.soft) + " exceeds hard limit " +
                                 std::to_string(limit.hard));
  }
  return limit;
}

// The spec: "If rlimits contains duplicated entries with same type, the
// runtime MUST generate an error."
Result<std::vector<Rlimit>> decode_rlimits(const json::value& v, const std::string& path) {
  BERTH_TRY(auto limits, array_of(decode_rlimit)(v, path));
  for (std::size_t i = 0; i < limits.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (limits[i].resource == limits[j].resource) {
        return field_error(element_path(path, i) + ".type",
                           "duplicate " + std::string(name_of(kRlimits, limits[i].resource)) + " (also in " +
                               element_path(path, j) + ")");
      }
    }
  }
  return limits;
}

Result<std::uint32_t> decode_umask(const json::value& v, const std::string& path) {
  return as_integer<std::uint32_t>(v, path, 0, 0777, "a file mode creation mask from 0 to 0777 (511)");
}

Result<User> decode_user(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  User user;
  BERTH_TRY_VOID(object.required("uid", as_u32, user.uid));
  BERTH_TRY_VOID(object.required("gid", as_u32, user.gid));
  BERTH_TRY_VOID(object.optional("umask", decode_umask, user.umask));
  BERTH_TRY_VOID(object.optional("additionalGids", array_of(as_u32), user.additional_gids));
  return user;
}

Result<int> decode_oom_score_adj(const json::value& v, const std::string& path) {
  // OOM_SCORE_ADJ_MIN and OOM_SCORE_ADJ_MAX: the kernel refuses anything else.
  return as_integer<int>(v, path, -1000, 1000, "an integer from -1000 to 1000");
}

Result<Process> decode_process(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  Process process;
  auto strings = array_of(as_string);
  BERTH_TRY_VOID(object.optional("terminal", as_bool, process.terminal));
  BERTH_TRY_VOID(object.optional("user", decode_user, process.user));
  BERTH_TRY_VOID(object.required("args", strings, process.args));
  BERTH_TRY_VOID(object.optional("env", strings, process.env));
  BERTH_TRY_VOID(object.required("cwd", as_string, process.cwd));
  BERTH_TRY_VOID(object.optional("capabilities", decode_capabilities, process.capabilities));
  BERTH_TRY_VOID(object.optional("rlimits", decode_rlimits, process.rlimits));
  BERTH_TRY_VOID(object.optional("noNewPrivileges", as_bool, process.no_new_privileges));
  BERTH_TRY_VOID(object.optional("oomScoreAdj", decode_oom_score_adj, process.oom_score_adj));
  return process;
}

// Relative paths in config.json are relative to the bundle; the result is
// absolute so it does not depend on the caller's working directory.
fs::path in_bundle(const fs::path& bundle, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  std::error_code ec;
  auto base = fs::absolute(bundle.empty() ? fs::path(".") : bundle, ec);
  return (ec ? bundle : base) / path;
}

Result<Root> decode_root(const json::value& v, const std::string& path, const fs::path& bundle) {
  BERTH_TRY(auto object, Object::of(v, path));
  Root root;
  std::string root_path;
  BERTH_TRY_VOID(object.required("path", as_string, root_path));
  if (root_path.empty()) {
    return field_error(object.path("path"), "must not be empty (leave out root to keep the host's root filesystem)");
  }
  root.path = in_bundle(bundle, root_path);
  BERTH_TRY_VOID(object.optional("readonly", as_bool, root.readonly));
  return root;
}

bool is_bind(const Mount& mount) {
  return std::ranges::any_of(mount.options, [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

Result<Mount> decode_mount(const json::value& v, const std::string& path, const fs::path& bundle) {
  BERTH_TRY(auto object, Object::of(v, path));
  Mount mount;
  BERTH_TRY_VOID(object.required("destination", as_string, mount.destination));
  BERTH_TRY_VOID(object.optional("type", as_string, mount.type));
  BERTH_TRY_VOID(object.optional("source", as_string, mount.source));
  BERTH_TRY_VOID(object.optional("options", array_of(as_string), mount.options));
  // The spec: "Path values for bind mounts are either absolute or relative to the bundle."
  if ((is_bind(mount) || mount.type == "bind") && !mount.source.empty()) {
    mount.source = in_bundle(bundle, mount.source).string();
  }
  return mount;
}

Result<int> decode_namespace_type(const json::value& v, const std::string& path) {
  BERTH_TRY(auto name, as_string(v, path));
  auto flag = namespace_flag(name);
  if (!flag) return field_error(path, "unknown namespace type " + single_quoted(name));
  return *flag;
}

Result<Namespace> decode_namespace(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  Namespace ns;
  BERTH_TRY_VOID(object.required("type", decode_namespace_type, ns.type));
  BERTH_TRY_VOID(object.optional("path", as_string, ns.path));
  return ns;
}

// The spec: "If a namespaces field contains duplicated namespaces with same
// type, the runtime MUST generate an error."
Result<std::vector<Namespace>> decode_namespaces(const json::value& v, const std::string& path) {
  BERTH_TRY(auto namespaces, array_of(decode_namespace)(v, path));
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (namespaces[i].type == namespaces[j].type) {
        return field_error(element_path(path, i) + ".type",
                           "duplicate namespace type " + single_quoted(namespace_name(namespaces[i].type)) +
                               " (also in " + element_path(path, j) + ")");
      }
    }
  }
  return namespaces;
}

Result<IdMapping> decode_id_mapping(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  IdMapping mapping;
  BERTH_TRY_VOID(object.required("containerID", as_u32, mapping.container_id));
  BERTH_TRY_VOID(object.required("hostID", as_u32, mapping.host_id));
  BERTH_TRY_VOID(object.required("size", as_u32, mapping.size));
  return mapping;
}

Result<char> decode_device_type(const json::value& v, const std::string& path) {
  BERTH_TRY(auto type, as_string(v, path));
  if (type != "c" && type != "b" && type != "u" && type != "p") {
    return field_error(path, "unknown device type " + single_quoted(type) + " (expected c, b, u or p)");
  }
  return type.front();
}

Result<Device> decode_device(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  Device device;
  BERTH_TRY_VOID(object.required("type", decode_device_type, device.type));
  BERTH_TRY_VOID(object.required("path", as_string, device.path));
  // A fifo has no device numbers; every other type needs both.
  if (device.type == 'p') {
    BERTH_TRY_VOID(object.optional("major", as_i64, device.major));
    BERTH_TRY_VOID(object.optional("minor", as_i64, device.minor));
  } else {
    BERTH_TRY_VOID(object.required("major", as_i64, device.major));
    BERTH_TRY_VOID(object.required("minor", as_i64, device.minor));
  }
  BERTH_TRY_VOID(object.optional("fileMode", as_u32, device.file_mode));
  BERTH_TRY_VOID(object.optional("uid", as_u32, device.uid));
  BERTH_TRY_VOID(object.optional("gid", as_u32, device.gid));
  return device;
}

// linux.sysctl, annotations: an object of strings.
Result<std::map<std::string, std::string>> decode_string_map(const json::value& v, const std::string& path) {
  if (!v.is_object()) return field_error(path, "expected an object");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.get_object()) {
    // Keys contain dots, so the path quotes them: linux.sysctl["net.ipv4.ip_forward"].
    BERTH_TRY(auto text, as_string(value, path + "[\"" + std::string(key) + "\"]"));
    out.emplace(std::string(key), std::move(text));
  }
  return out;
}

Result<std::string> decode_propagation(const json::value& v, const std::string& path) {
  BERTH_TRY(auto mode, as_string(v, path));
  if (std::ranges::find(kPropagations, mode) == kPropagations.end()) {
    return field_error(path, "unknown propagation " + single_quoted(mode) +
                                 " (expected private, rprivate, slave, rslave, shared, rshared, unbindable or "
                                 "runbindable)");
  }
  return mode;
}

// linux.resources and linux.seccomp are applied by the isolators from their own copy.
Result<Linux> decode_linux(const json::value& v, const std::string& path) {
  BERTH_TRY(auto object, Object::of(v, path));
  Linux linux_config;
  auto strings = array_of(as_string);
  BERTH_TRY_VOID(object.optional("namespaces", decode_namespaces, linux_config.namespaces));
  BERTH_TRY_VOID(object.optional("uidMappings", array_of(decode_id_mapping), linux_config.uid_mappings));
  BERTH_TRY_VOID(object.optional("gidMappings", array_of(decode_id_mapping), linux_config.gid_mappings));
  BERTH_TRY_VOID(object.optional("devices", array_of(decode_device), linux_config.devices));
  BERTH_TRY_VOID(object.optional("sysctl", decode_string_map, linux_config.sysctl));
  BERTH_TRY_VOID(object.optional("cgroupsPath", as_string, linux_config.cgroups_path));
  BERTH_TRY_VOID(object.optional("maskedPaths", strings, linux_config.masked_paths));
  BERTH_TRY_VOID(object.optional("readonlyPaths", strings, linux_config.readonly_paths));
  BERTH_TRY_VOID(object.optional("rootfsPropagation", decode_propagation, linux_config.rootfs_propagation));
  return linux_config;
}

Result<Spec> decode_spec(const json::value& v, const fs::path& bundle) {
  if (!v.is_object()) return fail("config.json: expected a JSON object at the top level");
  Object object = *Object::of(v, "");
  Spec spec;
  auto with_bundle = [&bundle](auto decode) {
    return [&bundle, decode](const json::value& value, const std::string& path) { return decode(value, path, bundle); };
  };
  BERTH_TRY_VOID(object.required("ociVersion", as_string, spec.oci_version));
  // Optional in the spec until `start`; the launcher always starts one.
  BERTH_TRY_VOID(object.required("process", decode_process, spec.process));
  BERTH_TRY_VOID(object.optional("root", with_bundle(decode_root), spec.root));
  BERTH_TRY_VOID(object.optional("hostname", as_string, spec.hostname));
  BERTH_TRY_VOID(object.optional("domainname", as_string, spec.domainname));
  BERTH_TRY_VOID(object.optional("mounts", array_of(with_bundle(decode_mount)), spec.mounts));
  BERTH_TRY_VOID(object.optional("linux", decode_linux, spec.linux_config));
  BERTH_TRY_VOID(object.optional("annotations", decode_string_map, spec.annotations));
  return spec;
}

std::string line_and_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  auto before = text.substr(0, offset);
  auto line = std::ranges::count(before, '\n') + 1;
  auto last_newline = before.rfind('\n');
  auto column = last_newline == std::string_view::npos ? offset + 1 : offset - last_newline;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// ---------------------------------------------------------------------------
// Checks across fields.

bool absolute(std::string_view path) { return !path.empty() && path.front() == '/'; }

std::unexpected<Error> invalid(std::string_view field, std::string_view what) {
  return fail(std::string(field) + ": " + std::string(what));
}

Result<void> require_absolute(std::string_view field, std::string_view path) {
  if (!absolute(path)) return invalid(field, single_quoted(path) + " is not an absolute path");
  return {};
}

Result<void> require_absolute_all(std::string_view field, const std::vector<std::string>& paths) {
  for (std::size_t i = 0; i < paths.size(); ++i) BERTH_TRY_VOID(require_absolute(element_path(field, i), paths[i]));
  return {};
}

bool creates(const Linux& linux_config, int type) { return (linux_config.new_namespace_flags() & type) != 0; }

Result<void> validate_process(const Process& process) {
  if (process.args.empty()) return invalid("process.args", "must name the program to run (it is empty)");
  BERTH_TRY_VOID(require_absolute("process.cwd", process.cwd));
  for (std::size_t i = 0; i < process.env.size(); ++i) {
    auto equals = process.env[i].find('=');
    if (equals == std::string::npos || equals == 0) {
      return invalid(element_path("process.env", i), single_quoted(process.env[i]) + " is not KEY=VALUE");
    }
  }
  return {};
}

Result<void> validate_root(const Root& root) {
  if (root.path.empty()) return {};
  BERTH_TRY_VOID(require_absolute("root.path", root.path.native()));
  const auto& path = root.path.native();
  std::error_code ec;
  auto status = fs::status(root.path, ec);
  if (status.type() == fs::file_type::not_found) return invalid("root.path", single_quoted(path) + " does not exist");
  if (ec) return fail(Error::sys("stat", ec.value(), path).context("root.path"));
  if (!fs::is_directory(status)) return invalid("root.path", single_quoted(path) + " is not a directory");
  return {};
}

Result<void> validate_mounts(const std::vector<Mount>& mounts) {
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    BERTH_TRY_VOID(require_absolute(element_path("mounts", i) + ".destination", mounts[i].destination));
  }
  return {};
}

Result<void> validate_namespaces(const Linux& linux_config) {
  for (std::size_t i = 0; i < linux_config.namespaces.size(); ++i) {
    const auto& ns = linux_config.namespaces[i];
    if (!ns.path.empty()) BERTH_TRY_VOID(require_absolute(element_path("linux.namespaces", i) + ".path", ns.path));
  }
  return {};
}

// The kernel refuses a map with overlapping ranges, ranges past 2^32 or more
// than 340 lines (user_namespaces(7)); saying so here beats an EINVAL from
// writing uid_map in the child.
Result<void> validate_id_mappings(std::string_view field, const std::vector<IdMapping>& mappings) {
  constexpr std::size_t kMaxLines = 340;
  constexpr std::uint64_t kIdLimit = std::uint64_t{1} << 32;
  if (mappings.size() > kMaxLines) {
    return invalid(field, std::to_string(mappings.size()) + " entries exceed the kernel's limit of 340");
  }
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    const auto& m = mappings[i];
    auto entry = element_path(field, i);
    if (m.size == 0) return invalid(entry + ".size", "must be greater than 0");
    if (std::uint64_t{m.container_id} + m.size > kIdLimit) return invalid(entry, "containerID + size exceeds 2^32");
    if (std::uint64_t{m.host_id} + m.size > kIdLimit) return invalid(entry, "hostID + size exceeds 2^32");
    for (std::size_t j = 0; j < i; ++j) {
      const auto& o = mappings[j];
      auto overlaps = [&](std::uint32_t a, std::uint32_t b) {
        return std::uint64_t{a} < std::uint64_t{b} + o.size && std::uint64_t{b} < std::uint64_t{a} + m.size;
      };
      if (overlaps(m.container_id, o.container_id) || overlaps(m.host_id, o.host_id)) {
        return invalid(entry, "overlaps " + element_path(field, j));
      }
    }
  }
  return {};
}

Result<void> validate_user_namespace(const Linux& linux_config) {
  bool mapped = !linux_config.uid_mappings.empty() || !linux_config.gid_mappings.empty();
  if (mapped && !linux_config.has_namespace(CLONE_NEWUSER)) {
    auto field = linux_config.uid_mappings.empty() ? "linux.gidMappings" : "linux.uidMappings";
    return invalid(field, "set without a user namespace in linux.namespaces");
  }
  if (creates(linux_config, CLONE_NEWUSER)) {
    // An unmapped user namespace leaves everyone as the overflow id 65534 and
    // the container unable to do anything useful as root.
    if (linux_config.uid_mappings.empty()) return invalid("linux.uidMappings", "required to create a user namespace");
    if (linux_config.gid_mappings.empty()) return invalid("linux.gidMappings", "required to create a user namespace");
  }
  BERTH_TRY_VOID(validate_id_mappings("linux.uidMappings", linux_config.uid_mappings));
  return validate_id_mappings("linux.gidMappings", linux_config.gid_mappings);
}

// Device nodes are made with mknod; outside /dev one could land on a bind
// mount of a host directory and give the host a device node the container owns.
Result<void> validate_devices(const std::vector<Device>& devices) {
  for (std::size_t i = 0; i < devices.size(); ++i) {
    auto field = element_path("linux.devices", i) + ".path";
    BERTH_TRY_VOID(require_absolute(field, devices[i].path));
    auto normal = fs::path(devices[i].path).lexically_normal().native();
    if (!normal.starts_with("/dev/") || normal.size() == 5) {
      return invalid(field, single_quoted(devices[i].path) + " is not under /dev");
    }
  }
  return {};
}

// Which sysctls a namespace owns, so that setting them changes the container
// and not the host (the list runc and Docker use).
std::optional<int> sysctl_namespace(std::string_view key) {
  if (key.starts_with("kernel.msg") || key == "kernel.sem" || key == "kernel.sem_next_id" ||
      key.starts_with("kernel.shm") || key.starts_with("fs.mqueue.")) {
    return CLONE_NEWIPC;
  }
  if (key.starts_with("net.")) return CLONE_NEWNET;
  if (key == "kernel.hostname" || key == "kernel.domainname") return CLONE_NEWUTS;
  return std::nullopt;
}

// "net.ipv4.conf.eth0/100.forwarding" is fine; "net./../../x" would leave
// /proc/sys once the dots become slashes.
bool well_formed_sysctl(std::string_view key) {
  std::size_t start = 0;
  while (start <= key.size()) {
    auto end = key.find_first_of("./", start);
    if (end == std::string_view::npos) end = key.size();
    if (end == start) return false;
    start = end + 1;
  }
  return true;
}

Result<void> validate_sysctl(const Linux& linux_config) {
  for (const auto& [key, value] : linux_config.sysctl) {
    auto field = "linux.sysctl[\"" + key + "\"]";
    if (!well_formed_sysctl(key)) return invalid(field, "malformed sysctl name");
    auto type = sysctl_namespace(key);
    if (!type) {
      return invalid(field, "not a namespaced sysctl, so setting it would change the host (allowed: kernel.msg*, "
                            "kernel.sem, kernel.shm*, fs.mqueue.* with an ipc namespace; net.* with a network "
                            "namespace; kernel.hostname, kernel.domainname with a new uts namespace)");
    }
    // Like hostname: a joined uts namespace may be the host's.
    bool has = *type == CLONE_NEWUTS ? creates(linux_config, *type) : linux_config.has_namespace(*type);
    if (!has) {
      auto needed = *type == CLONE_NEWUTS ? "a new uts" : *type == CLONE_NEWNET ? "a network" : "an ipc";
      return invalid(field, "needs " + std::string(needed) + " namespace in linux.namespaces");
    }
  }
  return {};
}

Result<void> validate_uts(const Spec& spec) {
  for (auto [field, value] : {std::pair{"hostname", &spec.hostname}, std::pair{"domainname", &spec.domainname}}) {
    if (!value->empty() && !creates(spec.linux_config, CLONE_NEWUTS)) {
      return invalid(field, "set without a new uts namespace in linux.namespaces (it would rename the host)");
    }
  }
  return {};
}

}  // namespace

std::string_view namespace_name(int clone_flag) { return name_of(kNamespaces, clone_flag); }

std::optional<int> namespace_flag(std::string_view name) { return lookup(kNamespaces, name); }

int Linux::new_namespace_flags() const {
  int flags = 0;
  for (const auto& ns : namespaces) {
    if (ns.path.empty()) flags |= ns.type;
  }
  return flags;
}

bool Linux::has_namespace(int type) const {
  return std::ranges::any_of(namespaces, [type](const Namespace& ns) { return ns.type == type; });
}

Result<Spec> parse_spec(std::string_view text, const std::filesystem::path& bundle) {
  json::parser parser;
  boost::system::error_code ec;
  std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (ec) return fail("config.json: invalid JSON at " + line_and_column(text, consumed) + ": " + ec.message());
  return decode_spec(parser.release(), bundle);
}

Result<Spec> load_bundle(const std::filesystem::path& bundle) {
  auto context = "bundle " + bundle.string();
  std::error_code ec;
  if (!fs::is_directory(bundle, ec)) {
    return fail(context + ": " + (fs::exists(bundle, ec) ? "not a directory" : "no such directory"));
  }
  BERTH_TRY(auto text, with_context(files::read(bundle / "config.json"), context));
  BERTH_TRY(auto spec, with_context(parse_spec(text, bundle), context));
  // Callers launch what this returns, so it is checked here as well.
  BERTH_TRY_VOID(with_context(with_context(validate(spec), "config.json"), context));
  return spec;
}

Result<void> validate(const Spec& spec) {
  BERTH_TRY_VOID(validate_process(spec.process));
  BERTH_TRY_VOID(validate_root(spec.root));
  BERTH_TRY_VOID(validate_mounts(spec.mounts));
  BERTH_TRY_VOID(validate_uts(spec));
  BERTH_TRY_VOID(validate_namespaces(spec.linux_config));
  BERTH_TRY_VOID(validate_user_namespace(spec.linux_config));
  BERTH_TRY_VOID(validate_devices(spec.linux_config.devices));
  BERTH_TRY_VOID(require_absolute_all("linux.maskedPaths", spec.linux_config.masked_paths));
  BERTH_TRY_VOID(require_absolute_all("linux.readonlyPaths", spec.linux_config.readonly_paths));
  return validate_sysctl(spec.linux_config);
}

}  // namespace berth::launcher::oci
