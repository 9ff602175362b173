#include "berth/launcher/child_plan.hpp"

#include <sched.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <ranges>

#include "berth/common/seccomp_bpf.hpp"

namespace berth::launcher {

namespace fs = std::filesystem;

namespace {

// Namespaces the child can set up on its own (a user namespace's maps are
// written by the parent). CLONE_NEWTIME only applies to the children of the
// process that creates it, which clone3 cannot express.
constexpr int kSupportedNamespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                                     CLONE_NEWCGROUP | CLONE_NEWUSER;

// execvpe(3)'s default when the environment has no PATH.
constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

constexpr std::array<std::string_view, kChildStepCount> kStepNames = {
    "setns", "wait for id maps", "open runtime dir", "attach layer", "isolate fds", "reset signals", "set non-dumpable", "set subreaper", "open stdin",
    "open stdout", "open stderr", "make mounts private", "bind rootfs", "mount /dev", "mount", "create device",
    "symlink", "mount /dev/shm", "pivot_root", "remount root read-only", "write sysctl", "make path read-only",
    "mask path", "sethostname", "setdomainname", "chdir", "find executable", "fork task", "exec berth-init",
    "set parent death signal", "load seccomp filter (beside init)", "drop bounding capability (beside init)",
    "wait for init's setup", "chdir", "unblock signals",
    "setsid", "setrlimit", "write oom_score_adj", "load seccomp filter", "drop bounding capability", "keep capabilities", "setgroups", "setresgid", "setresuid",
    "capset", "raise ambient capability", "set parent death signal", "set no_new_privs", "umask", "close fds",
    "wait for start", "load seccomp filter", "execve",
};

constexpr std::array<std::string_view, 16> kRlimitNames = {
    "RLIMIT_CPU",   "RLIMIT_FSIZE",  "RLIMIT_DATA",  "RLIMIT_STACK",      "RLIMIT_CORE",     "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",      "RLIMIT_LOCKS",    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

// The minimal /dev of the runtime spec (config-linux.md, "Default Devices").
struct DefaultDevice {
  std::string_view path;
  unsigned major;
  unsigned minor;
};
constexpr std::array<DefaultDevice, 6> kDefaultDevices{{
    {"/dev/null", 1, 3},
    {"/dev/zero", 1, 5},
    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8},
    {"/dev/urandom", 1, 9},
    {"/dev/tty", 5, 0},
}};

#if defined(__x86_64__)
constexpr std::uint32_t kNativeAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kNativeAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr std::uint32_t kNativeAuditArch = 0;  // no early filter: allows() answers no
#endif

// What the task calls after loading a filter beside init (task_steps.cpp,
// security_steps.cpp): the prctl options it uses, and the rest with any
// first argument. Docker's default profile allows them all.
constexpr std::array<seccomp_bpf::Call, 24> kTaskCallsAfterEarlyFilter{{
    {SYS_prctl, PR_CAPBSET_DROP}, {SYS_futex, FUTEX_WAIT_PRIVATE}, {SYS_chdir},
    {SYS_rt_sigprocmask, SIG_SETMASK}, {SYS_setsid}, {SYS_prlimit64}, {SYS_openat, static_cast<std::uint64_t>(AT_FDCWD)},
    {SYS_write}, {SYS_close}, {SYS_prctl, PR_SET_KEEPCAPS}, {SYS_setgroups}, {SYS_getgroups},
    {SYS_setresgid}, {SYS_setresuid}, {SYS_capset}, {SYS_prctl, PR_CAP_AMBIENT}, {SYS_prctl, PR_SET_PDEATHSIG},
    {SYS_getppid}, {SYS_prctl, PR_SET_NO_NEW_PRIVS}, {SYS_umask}, {SYS_close_range}, {SYS_execve},
    {SYS_exit_group}, {SYS_exit},
}};

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

Result<void> check_string(std::string_view what, std::string_view value) {
  if (value.empty()) return fail(std::string(what) + " is empty");
  if (has_nul(value)) return fail(std::string(what) + " contains a NUL byte");
  return {};
}

std::string_view path_variable(const std::vector<std::string>& env) {
  // Like getenv, the first definition wins.
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) return std::string_view(entry).substr(5);
  }
  return kDefaultPath;
}

std::vector<char*> null_terminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// "/a/./b/" -> "/a/b"; ".." cannot climb above "/", so not out of the rootfs either.
std::string normal_destination(const std::string& destination) {
  auto normal = fs::path(destination).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string in_rootfs(const fs::path& rootfs, const std::string& destination) {
  return rootfs.string() + (destination == "/" && !rootfs.empty() ? "" : destination);
}

bool mounts_at(const oci::Spec& spec, std::string_view destination) {
  return std::ranges::any_of(spec.mounts, [&](const oci::Mount& m) { return normal_destination(m.destination) == destination; });
}

Result<void> check_mounts(const oci::Spec& spec) {
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    auto field = "mounts[" + std::to_string(i) + "]";
    auto parsed = parse_mount_options(m.options, m.type == "bind");
    if (!parsed) return fail(std::move(parsed).error().context(field + ".options"));
    if (has_nul(m.source) || has_nul(m.type) || has_nul(m.destination)) return fail(field + " contains a NUL byte");
    if (parsed->bind && m.source.empty()) return fail(field + ".source: a bind mount needs a source");
  }
  return {};
}

// What needs a mount namespace, or the host's own mount table would change.
Result<void> check_mount_namespace(const oci::Spec& spec) {
  if (spec.linux_config.new_namespace_flags() & CLONE_NEWNS) return {};
  const auto& l = spec.linux_config;
  for (auto [field, used] : {std::pair{"root.path", !spec.root.path.empty()}, std::pair{"mounts", !spec.mounts.empty()},
                             std::pair{"linux.devices", !l.devices.empty()},
                             std::pair{"linux.maskedPaths", !l.masked_paths.empty()},
                             std::pair{"linux.readonlyPaths", !l.readonly_paths.empty()},
                             std::pair{"root.readonly", spec.root.readonly}}) {
    if (used) return fail(std::string(field) + ": needs a new mount namespace in linux.namespaces");
  }
  return {};
}

Result<void> check_process(const oci::Process& process) {
  if (process.terminal) return fail("process.terminal: a terminal is not supported by this launcher");
  BERTH_TRY_VOID(check_string("process.args[0]", process.args.at(0)));
  if (std::ranges::any_of(process.args, has_nul)) return fail("process.args: contains a NUL byte");
  if (std::ranges::any_of(process.env, has_nul)) return fail("process.env: contains a NUL byte");
  return check_string("process.cwd", process.cwd);
}

// Joined after clone3 by init, with setns: only the types that take effect
// for the caller at once. Joining needs CAP_SYS_ADMIN over the namespace's
// owner, which a new user namespace's root lacks for the host's.
constexpr int kJoinableNamespaces = CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;

Result<void> check_namespaces(const oci::Linux& linux_config) {
  bool new_user_namespace = linux_config.new_namespace_flags() & CLONE_NEWUSER;
  for (std::size_t i = 0; i < linux_config.namespaces.size(); ++i) {
    const auto& ns = linux_config.namespaces[i];
    auto field = "linux.namespaces[" + std::to_string(i) + "]";
    if (!ns.path.empty() && (ns.type & ~kJoinableNamespaces) != 0) {
      return fail(field + ".path: joining a " + std::string(oci::namespace_name(ns.type)) +
                  " namespace is not supported by this launcher (network, uts, ipc and cgroup are)");
    }
    if (!ns.path.empty() && new_user_namespace) {
      return fail(field + ".path: joining a namespace together with a new user namespace is not supported");
    }
    if ((ns.type & ~kSupportedNamespaces) != 0) {
      return fail(field + ".type: " + std::string(oci::namespace_name(ns.type)) + " namespace not supported by this launcher");
    }
  }
  return {};
}

int read_last_capability() {
  static const int last = [] {
    int value = 40;  // CAP_CHECKPOINT_RESTORE, the last one Linux 6.x knows
    std::ifstream("/proc/sys/kernel/cap_last_cap") >> value;
    return value;
  }();
  return last;
}

std::uint64_t mask_of(const std::vector<int>& caps) {
  std::uint64_t mask = 0;
  for (int cap : caps) {
    if (cap >= 0 && cap < 64) mask |= std::uint64_t{1} << cap;
  }
  return mask;
}

PreparedMount prepare_mount(const fs::path& rootfs, const oci::Mount& mount) {
  PreparedMount prepared;
  prepared.destination = normal_destination(mount.destination);
  prepared.options = parse_mount_options(mount.options, mount.type == "bind").value();  // checked by validate()
  prepared.source = mount.source;
  prepared.type = prepared.options.bind ? "" : mount.type;
  // Runtimes read "cgroup" as "the host's cgroup hierarchy", which on a
  // cgroup v2 runtime is the cgroup2 filesystem (runc does the same).
  if (prepared.type == "cgroup") prepared.type = "cgroup2";
  prepared.target = in_rootfs(rootfs, prepared.destination);
  std::error_code ec;
  prepared.file_target = prepared.options.bind && fs::exists(mount.source, ec) && !fs::is_directory(mount.source, ec);
  prepared.dirs = mount_point_dirs(rootfs.string(), prepared.destination);
  if (prepared.file_target && !prepared.dirs.empty()) prepared.dirs.pop_back();
  return prepared;
}

mode_t device_type(char type) {
  switch (type) {
    case 'b': return S_IFBLK;
    case 'p': return S_IFIFO;
    default: return S_IFCHR;
  }
}

}  // namespace

std::string_view step_name(ChildStep step) {
  auto index = static_cast<std::uint32_t>(step);
  return index < kStepNames.size() ? kStepNames[index] : "unknown step";
}

static std::string overlay_options(const OverlayRootfs& overlay) {
  std::string lower;
  for (const auto& layer : overlay.layers) lower += (lower.empty() ? "" : ":") + layer;
  return "lowerdir=" + lower + ",upperdir=" + overlay.upper.string() + ",workdir=" + overlay.work.string() +
         (overlay.userxattr ? ",userxattr" : "");
}

static Result<void> check_overlay(const LaunchRequest& request) {
  const auto& overlay = *request.overlay;
  if (request.spec.root.path.empty()) return fail("overlay: needs root.path to mount the overlay on");
  if (overlay.layers.empty()) return fail("overlay: no layers");
  if (!overlay.attach_fds.empty() && overlay.attach_fds.size() != overlay.layers.size()) {
    return fail("overlay: " + std::to_string(overlay.attach_fds.size()) + " trees to attach for " +
                std::to_string(overlay.layers.size()) + " layers");
  }
  if (!overlay.layers_dir.is_absolute()) return fail("overlay: layers_dir must be an absolute path");
  if (!overlay.upper.is_absolute() || !overlay.work.is_absolute()) {
    return fail("overlay: upper and work must be absolute paths");
  }
  for (const auto& layer : overlay.layers) {
    // overlayfs separates lower directories with ':' and options with ','; '\\' escapes them.
    if (layer.empty() || layer.front() == '/' || layer.find_first_of(":,\\") != std::string::npos ||
        layer.find('\0') != std::string::npos || layer == ".." || layer.starts_with("../") ||
        layer.find("/../") != std::string::npos) {
      return fail("overlay: layer '" + layer + "' is not a plain path relative to layers_dir");
    }
  }
  for (const auto* path : {&overlay.upper, &overlay.work, &overlay.layers_dir}) {
    if (path->native().find_first_of(":,\\") != std::string::npos || has_nul(path->native())) {
      return fail("overlay: " + path->string() + " contains ':', ',', '\\' or a NUL byte");
    }
  }
  // The kernel takes at most a page of mount options.
  if (auto length = overlay_options(overlay).size(); length >= 4096) {
    return fail("overlay: " + std::to_string(overlay.layers.size()) + " layers make " + std::to_string(length) +
                " bytes of mount options, more than the kernel's 4095");
  }
  return {};
}

Result<void> validate(const LaunchRequest& request) {
  const auto& spec = request.spec;
  BERTH_TRY_VOID(oci::validate(spec));
  BERTH_TRY_VOID(check_process(spec.process));
  BERTH_TRY_VOID(check_namespaces(spec.linux_config));
  BERTH_TRY_VOID(check_mount_namespace(spec));
  BERTH_TRY_VOID(check_mounts(spec));
  if (!spec.linux_config.rootfs_propagation.empty() && !propagation_flags(spec.linux_config.rootfs_propagation)) {
    return fail("linux.rootfsPropagation: unknown propagation '" + spec.linux_config.rootfs_propagation + "'");
  }
  if (has_nul(spec.hostname) || has_nul(spec.domainname)) return fail("hostname: contains a NUL byte");
  for (auto [field, path] : {std::pair{"stdin_path", &request.stdin_path}, std::pair{"stdout_path", &request.stdout_path},
                             std::pair{"stderr_path", &request.stderr_path}}) {
    if (has_nul(path->native())) return fail(std::string(field) + " contains a NUL byte");
  }
  if (request.seccomp) {
    const auto& program = request.seccomp->instructions;
    // BPF_MAXINSNS: the kernel refuses longer programs with EINVAL.
    if (program.empty() || program.size() > 4096) {
      return fail("seccomp: a filter needs 1 to 4096 instructions, not " + std::to_string(program.size()));
    }
  }
  if (request.overlay) BERTH_TRY_VOID(check_overlay(request));
  return check_string("runtime_dir", request.runtime_dir.native());
}

std::vector<std::string> exec_candidates(const std::string& program, const std::vector<std::string>& env) {
  if (program.find('/') != std::string::npos) return {program};
  std::vector<std::string> candidates;
  for (auto dir : std::views::split(path_variable(env), ':')) {
    std::string_view d(dir.begin(), dir.end());
    // An empty PATH element means the current directory.
    candidates.push_back(std::string(d.empty() ? "." : d) + "/" + program);
  }
  return candidates;
}

std::string sysctl_path(std::string_view key) {
  std::string path = "/proc/sys/";
  for (char c : key) path += c == '.' ? '/' : c == '/' ? '.' : c;
  return path;
}

std::string id_map_text(const std::vector<oci::IdMapping>& mappings) {
  std::string text;
  for (const auto& m : mappings) {
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  }
  return text;
}

std::vector<std::string> mount_point_dirs(const std::string& root, const std::string& path) {
  std::vector<std::string> dirs;
  std::string current = root;
  for (auto part : std::views::split(std::string_view(path), '/')) {
    std::string_view name(part.begin(), part.end());
    if (name.empty() || name == ".") continue;
    current += "/";
    current += name;
    dirs.push_back(current);
  }
  return dirs;
}

ChildPlan::ChildPlan(const LaunchRequest& request)
    : request_(request),
      namespaces_(request.spec.linux_config.new_namespace_flags()),
      candidates_(launcher::exec_candidates(request.spec.process.args.at(0), request.spec.process.env)) {
  argv_ = null_terminated(request_.spec.process.args);
  envp_ = null_terminated(request_.spec.process.env);
  for (const auto& c : candidates_) candidate_ptrs_.push_back(c.c_str());
  prepare_filesystem();
  prepare_devices();
  for (const auto& [key, value] : request_.spec.linux_config.sysctl) sysctls_.push_back({sysctl_path(key), value});
  last_cap_ = read_last_capability();
  if (const auto& caps = request_.spec.process.capabilities) {
    capabilities_ = CapabilityMasks{mask_of(caps->bounding), mask_of(caps->effective), mask_of(caps->permitted),
                                    mask_of(caps->inheritable), mask_of(caps->ambient)};
    // The kernel only raises an ambient capability that is both permitted and
    // inheritable. Configs written for runc (its `runc spec` among them) list
    // ambient capabilities without inheritable ones, and runc and crun skip
    // those; so does this launcher, rather than refuse a common config.
    capabilities_->ambient &= capabilities_->permitted & capabilities_->inheritable;
  }
  const auto& gids = request_.spec.process.user.additional_gids;
  additional_gids_.assign(gids.begin(), gids.end());
  for (const auto& ns : request_.spec.linux_config.namespaces) {
    if (!ns.path.empty()) joins_.push_back({ns.type, ns.path, -1});
  }
  if (request_.seccomp) {
    auto& program = request_.seccomp->instructions;
    seccomp_ = sock_fprog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    seccomp_early_ = !gated() && seccomp_bpf::allows(program, kNativeAuditArch, kTaskCallsAfterEarlyFilter);
  }
  task_forks_early_ = !gated() && (seccomp_early_ || capabilities_.has_value());
}

void ChildPlan::prepare_filesystem() {
  const auto& spec = request_.spec;
  const auto& rootfs = spec.root.path;
  root_propagation_ = propagation_flags(spec.linux_config.rootfs_propagation).value_or(MS_PRIVATE | MS_REC);
  if (request_.overlay) {
    overlay_options_ = launcher::overlay_options(*request_.overlay);
    attach_fds_ = request_.overlay->attach_fds;
    for (std::size_t i = 0; i < attach_fds_.size(); ++i) {
      attach_targets_.push_back((request_.overlay->layers_dir / request_.overlay->layers[i]).string());
    }
  }
  for (const auto& mount : spec.mounts) mounts_.push_back(prepare_mount(rootfs, mount));
  has_own_dev_ = has_rootfs() || mounts_at(spec, "/dev");
  if (has_rootfs() && !mounts_at(spec, "/dev")) {
    dev_mount_ = prepare_mount(rootfs, {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}});
  }
  if (has_own_dev_ && !mounts_at(spec, "/dev/shm")) {
    shm_mount_ = prepare_mount(rootfs, {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}});
  }
}

void ChildPlan::prepare_devices() {
  if (!has_own_dev_) return;
  const auto& rootfs = request_.spec.root.path;
  const auto& spec_devices = request_.spec.linux_config.devices;
  auto in_spec = [&](std::string_view path) {
    return std::ranges::any_of(spec_devices, [&](const oci::Device& d) { return normal_destination(d.path) == path; });
  };
  for (const auto& d : kDefaultDevices) {
    if (in_spec(d.path)) continue;
    std::string path(d.path);
    devices_.push_back({path, in_rootfs(rootfs, path), S_IFCHR | 0666, makedev(d.major, d.minor), {}, {}, {}});
  }
  for (const auto& d : spec_devices) {
    auto path = normal_destination(d.path);
    auto mode = device_type(d.type) | (d.file_mode.value_or(0666) & 07777);
    auto rdev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    auto dirs = mount_point_dirs(rootfs.string(), path);
    dirs.pop_back();
    devices_.push_back({path, in_rootfs(rootfs, path), static_cast<mode_t>(mode), rdev, d.uid, d.gid, std::move(dirs)});
  }
  constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kLinks{{
      {"/proc/self/fd", "/dev/fd"},
      {"/proc/self/fd/0", "/dev/stdin"},
      {"/proc/self/fd/1", "/dev/stdout"},
      {"/proc/self/fd/2", "/dev/stderr"},
      {"pts/ptmx", "/dev/ptmx"},
  }};
  for (auto [target, link] : kLinks) {
    if (!in_spec(link)) dev_symlinks_.push_back({std::string(target), in_rootfs(rootfs, std::string(link))});
  }
}

Result<void> ChildPlan::open_joined_namespaces() {
  for (std::size_t i = 0; i < joins_.size(); ++i) {
    auto& join = joins_[i];
    UniqueFd fd(::open(join.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_sys("open namespace", join.path);
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type < 0) return fail(Error(join.path + " is not a namespace", errno, join.path));
    if (type != join.type) {
      return fail(Error(join.path + " is not a " + std::string(oci::namespace_name(join.type)) + " namespace", EINVAL,
                        join.path));
    }
    join.fd = fd.get();
    join_fds_.push_back(std::move(fd));
  }
  return {};
}

std::string ChildPlan::path_for(ChildStep step, std::uint32_t index) const {
  const auto& spec = request_.spec;
  auto at = [index](const auto& list, auto member) -> std::string {
    return index < list.size() ? std::string(list[index].*member) : std::string();
  };
  auto container_path = [this](const std::string& path) { return path.substr(request_.spec.root.path.native().size()); };
  switch (step) {
    case ChildStep::kOpenRuntimeDir: return request_.runtime_dir;
    case ChildStep::kAttachLayers: return index < attach_targets_.size() ? attach_targets_[index] : std::string();
    case ChildStep::kJoinNamespaces: return index < joins_.size() ? joins_[index].path : std::string();
    case ChildStep::kOpenStdin: return request_.stdin_path;
    case ChildStep::kOpenStdout: return request_.stdout_path;
    case ChildStep::kOpenStderr: return request_.stderr_path;
    case ChildStep::kBindRootfs:
    case ChildStep::kPivotRoot: return spec.root.path;
    case ChildStep::kMountDev: return "/dev";
    case ChildStep::kMountSpecMounts: return at(mounts_, &PreparedMount::destination);
    case ChildStep::kCreateDevices: return at(devices_, &PreparedDevice::path);
    case ChildStep::kLinkDevSymlinks: return index < dev_symlinks_.size() ? container_path(dev_symlinks_[index].link) : "";
    case ChildStep::kMountDevShm: return "/dev/shm";
    case ChildStep::kReadonlyRoot: return "/";
    case ChildStep::kWriteSysctls: return at(sysctls_, &PreparedSysctl::path);
    case ChildStep::kReadonlyPaths: return index < spec.linux_config.readonly_paths.size() ? spec.linux_config.readonly_paths[index] : "";
    case ChildStep::kMaskPaths: return index < spec.linux_config.masked_paths.size() ? spec.linux_config.masked_paths[index] : "";
    case ChildStep::kSetOomScoreAdj: return "/proc/self/oom_score_adj";
    case ChildStep::kSetHostname: return spec.hostname;
    case ChildStep::kSetDomainname: return spec.domainname;
    case ChildStep::kChdir: return spec.process.cwd;
    case ChildStep::kSetRlimits: {
      if (index >= spec.process.rlimits.size()) return {};
      auto resource = static_cast<std::size_t>(spec.process.rlimits[index].resource);
      return resource < kRlimitNames.size() ? std::string(kRlimitNames[resource]) : std::to_string(resource);
    }
    case ChildStep::kSetGroups: return "additional gids";
    case ChildStep::kSetGid: return "gid " + std::to_string(spec.process.user.gid);
    case ChildStep::kSetUid: return "uid " + std::to_string(spec.process.user.uid);
    case ChildStep::kDropBoundingSet:
    case ChildStep::kSetAmbientCaps: return "capability " + std::to_string(index);
    case ChildStep::kFindExecutable:
    case ChildStep::kExecve: return spec.process.args.at(0);
    case ChildStep::kWaitForStart: return (request_.runtime_dir / kStartGateFile).string();
    case ChildStep::kExecInit: return "berth-init";
    default: return {};
  }
}

}  // namespace berth::launcher
