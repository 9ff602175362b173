#pragma once
// What the launch child needs, prepared before clone3. Between clone3 and
// execve the child may not allocate or take a lock (another thread of the
// parent may have held the malloc lock at clone time), so every string, array
// and number it uses is built here, in the parent: mount flags and data,
// device numbers, capability masks, the paths of sysctls.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/launcher/launcher.hpp"
#include "berth/launcher/mount_options.hpp"

namespace berth::launcher {

// Every step of the child's setup, init's then the task's, in order. The
// failing step travels to the parent with its errno and, for steps over a
// list (mounts, devices, paths), the index of the failing item.
enum class ChildStep : std::uint32_t {
  kJoinNamespaces,
  kWaitForIdMaps,
  kOpenRuntimeDir,
  kAttachLayers,
  kIsolateFds,
  kResetSignals,
  kMakeNonDumpable,
  kBecomeSubreaper,
  kOpenStdin,
  kOpenStdout,
  kOpenStderr,
  kMakeMountsPrivate,
  kBindRootfs,
  kMountDev,
  kMountSpecMounts,
  kCreateDevices,
  kLinkDevSymlinks,
  kMountDevShm,
  kPivotRoot,
  kReadonlyRoot,
  kWriteSysctls,
  kReadonlyPaths,
  kMaskPaths,
  kSetHostname,
  kSetDomainname,
  kChdir,
  kFindExecutable,
  kForkTask,
  kExecInit,
  kDieWithInitEarly,
  kLoadSeccompEarly,
  kDropBoundingSetEarly,
  kWaitForSetup,
  kTaskChdir,
  kUnblockSignals,
  kNewSession,
  kSetRlimits,
  kSetOomScoreAdj,
  kLoadSeccompPrivileged,
  kDropBoundingSet,
  kKeepCaps,
  kSetGroups,
  kSetGid,
  kSetUid,
  kSetCapabilities,
  kSetAmbientCaps,
  kDieWithInit,
  kNoNewPrivs,
  kSetUmask,
  kCloseFds,
  kWaitForStart,
  kLoadSeccomp,
  kExecve,
};
inline constexpr std::uint32_t kChildStepCount = static_cast<std::uint32_t>(ChildStep::kExecve) + 1;
static_assert(kChildStepCount <= kInitRunningRecord);

// The name a failure of `step` is reported under ("execve", "chdir", "mount", ...).
std::string_view step_name(ChildStep step);

// What the child writes to the error pipe before exiting.
struct ChildFailure {
  std::uint32_t step = 0;
  std::int32_t error = 0;
  std::uint32_t index = 0;  // which mount, device, path... of the step's list
};

// oci::validate plus what this launcher needs: no terminal, no joined
// namespaces, a mount namespace for anything that mounts, known mount options,
// no NUL bytes in what becomes a C string.
Result<void> validate(const LaunchRequest& request);

// Where execve tries argv[0], in order, like execvpe(3): as given when it
// contains a '/', else each directory of PATH from `env` (default PATH if none).
std::vector<std::string> exec_candidates(const std::string& program, const std::vector<std::string>& env);

// "/proc/sys/net/ipv4/ip_forward" for "net.ipv4.ip_forward"; a '/' in the key
// stands for a '.' in a name ("net.ipv4.conf.eth0/100.forwarding"), as in sysctl(8).
std::string sysctl_path(std::string_view key);

// The text of /proc/<pid>/uid_map or gid_map: "<container> <host> <size>\n" per line.
std::string id_map_text(const std::vector<oci::IdMapping>& mappings);

// Directories to create, outermost first, so that `path` (absolute) exists
// under `root`: {"/r/a", "/r/a/b"} for "/a/b" (the last one is path itself).
std::vector<std::string> mount_point_dirs(const std::string& root, const std::string& path);

// One mount, ready for mount(2).
struct PreparedMount {
  std::string destination;  // in the container, for errors
  std::string source;
  std::string target;       // where it is mounted before pivot_root: rootfs + destination
  std::string type;
  MountOptions options;
  bool file_target = false;  // a bind of a non-directory: the mount point is an empty file
  std::vector<std::string> dirs;  // mount_point_dirs(rootfs, destination)
};

// A node in the container's /dev: made with mknod, or, in a user namespace
// (where mknod is refused), bind-mounted from the host's node of the same path.
struct PreparedDevice {
  std::string path;    // in the container, and on the host
  std::string target;  // rootfs + path
  mode_t mode = 0;     // S_IFCHR | 0666 ...
  dev_t rdev = 0;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<std::string> dirs;  // its parent directories to create (/dev/net for /dev/net/tun)
};

struct PreparedSymlink {
  std::string target;  // what the link points to ("/proc/self/fd")
  std::string link;    // rootfs + "/dev/fd"
};

struct PreparedSysctl {
  std::string path;  // sysctl_path(key)
  std::string value;
};

// A namespace the container joins (linux.namespaces[].path) instead of
// creating it; the fd is the plan's, opened by open_joined_namespaces().
struct JoinedNamespace {
  int type = 0;  // CLONE_NEW*
  std::string path;
  int fd = -1;
};

// Capability sets as bit masks, CAP_* n at bit n.
struct CapabilityMasks {
  std::uint64_t bounding = 0;
  std::uint64_t effective = 0;
  std::uint64_t permitted = 0;
  std::uint64_t inheritable = 0;
  std::uint64_t ambient = 0;
};

// Not movable: the pointer arrays point into its own strings. Build it from a
// request that passed validate().
class ChildPlan {
 public:
  explicit ChildPlan(const LaunchRequest& request);
  ChildPlan(const ChildPlan&) = delete;
  ChildPlan& operator=(const ChildPlan&) = delete;

  const LaunchRequest& request() const { return request_; }
  const oci::Spec& spec() const { return request_.spec; }
  int namespaces() const { return namespaces_; }
  bool has_namespace(int flag) const { return (namespaces_ & flag) != 0; }
  const char* runtime_dir() const { return request_.runtime_dir.c_str(); }
  const char* working_dir() const { return request_.spec.process.cwd.c_str(); }
  const char* stdin_path() const { return request_.stdin_path.c_str(); }
  const char* stdout_path() const { return request_.stdout_path.c_str(); }
  const char* stderr_path() const { return request_.stderr_path.c_str(); }
  const std::string& hostname() const { return request_.spec.hostname; }
  const std::string& domainname() const { return request_.spec.domainname; }
  char* const* argv() const { return argv_.data(); }
  char* const* envp() const { return envp_.data(); }
  std::span<const char* const> exec_candidates() const { return candidate_ptrs_; }
  bool gated() const { return request_.start == StartMode::gated; }
  // The filter as seccomp(2) takes it; null without one.
  const sock_fprog* seccomp() const { return seccomp_ ? &*seccomp_ : nullptr; }
  // The task is forked as soon as init has its stdio, and loads its filter
  // and drops its bounding set while init sets up the mounts, on another
  // CPU: the filter must allow every system call the task makes after it
  // (checked here), and the task must share init's memory (not gated).
  bool task_forks_early() const { return task_forks_early_; }
  bool seccomp_early() const { return seccomp_early_; }
  unsigned seccomp_flags() const { return request_.seccomp ? request_.seccomp->flags : 0; }

  // Filesystem, init side.
  const char* rootfs() const { return request_.spec.root.path.c_str(); }
  bool has_rootfs() const { return !request_.spec.root.path.empty(); }
  // With an overlay rootfs: the directory its layers are named relative to,
  // and the overlay's mount options.
  bool has_overlay() const { return request_.overlay.has_value(); }
  const char* overlay_layers_dir() const { return request_.overlay->layers_dir.c_str(); }
  const char* overlay_options() const { return overlay_options_.c_str(); }
  // Idmapped layer trees to attach (OverlayRootfs::attach_fds), and where.
  const std::vector<int>& attach_fds() const { return attach_fds_; }
  const std::vector<std::string>& attach_targets() const { return attach_targets_; }
  unsigned long root_propagation() const { return root_propagation_; }
  const std::optional<PreparedMount>& dev_mount() const { return dev_mount_; }
  const std::vector<PreparedMount>& mounts() const { return mounts_; }
  bool has_own_dev() const { return has_own_dev_; }
  const std::vector<PreparedDevice>& devices() const { return devices_; }
  const std::vector<PreparedSymlink>& dev_symlinks() const { return dev_symlinks_; }
  const std::optional<PreparedMount>& shm_mount() const { return shm_mount_; }
  const std::vector<PreparedSysctl>& sysctls() const { return sysctls_; }

  // Credentials, task side.
  const std::optional<CapabilityMasks>& capabilities() const { return capabilities_; }
  int last_capability() const { return last_cap_; }
  const std::vector<gid_t>& additional_gids() const { return additional_gids_; }

  // Namespaces to join, in spec order; fds once open_joined_namespaces() succeeded.
  const std::vector<JoinedNamespace>& joined_namespaces() const { return joins_; }
  // Opens each namespace to join, checking it is one of the type the spec
  // says; the fds are closed with the plan. Errors name the path.
  Result<void> open_joined_namespaces();

  // The path a failure of `step` (at `index` of its list) is about, for the parent's error.
  std::string path_for(ChildStep step, std::uint32_t index = 0) const;

 private:
  void prepare_filesystem();
  void prepare_devices();

  LaunchRequest request_;
  int namespaces_ = 0;
  std::vector<std::string> candidates_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
  std::vector<const char*> candidate_ptrs_;
  unsigned long root_propagation_ = 0;
  std::string overlay_options_;
  std::vector<int> attach_fds_;
  std::vector<std::string> attach_targets_;
  std::optional<PreparedMount> dev_mount_;
  std::vector<PreparedMount> mounts_;
  bool has_own_dev_ = false;
  std::vector<PreparedDevice> devices_;
  std::vector<PreparedSymlink> dev_symlinks_;
  std::optional<PreparedMount> shm_mount_;
  std::vector<PreparedSysctl> sysctls_;
  std::optional<CapabilityMasks> capabilities_;
  int last_cap_ = 0;
  std::vector<gid_t> additional_gids_;
  std::optional<sock_fprog> seccomp_;
  bool seccomp_early_ = false;
  bool task_forks_early_ = false;
  std::vector<JoinedNamespace> joins_;
  std::vector<UniqueFd> join_fds_;
};

}  // namespace berth::launcher
