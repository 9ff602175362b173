#pragma once
// Starts a container: clone3 into new namespaces (and a cgroup) gives the
// container's init, which sets the container up and forks the task.
//
//   agent --clone3--> init (pid 1 in a new pid namespace)
//                       `--fork--> task --execve--> spec.process.args
//
// init reaps everything in the container, forwards termination signals to the
// task and, when the task ends, records its wait status in
// `<runtime_dir>/exit_status` before exiting with the task's code. init has no
// parent-death signal, so containers outlive an agent restart; the restarted
// agent re-attaches with attach() and learns how the task ended from
// read_exit_status() (init is then no longer its child, so reap() cannot).

#include <linux/filter.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/launcher/oci_spec.hpp"
#include "berth/launcher/step_clock.hpp"

namespace berth::launcher {

// The file init writes in the runtime dir: the task's wait(2) status in decimal.
inline constexpr const char* kExitStatusFile = "exit_status";
// The fifo in the runtime dir a gated init waits on (StartGate::wait).
inline constexpr const char* kStartGateFile = "exec.fifo";

// A compiled seccomp filter, as seccomp(SECCOMP_SET_MODE_FILTER) takes it.
// Compiling (and caching) is the seccomp isolator's business; the launcher
// only loads it, as the last step before execve (or, when the task may gain
// privileges, before it drops them, since loading then needs CAP_SYS_ADMIN).
struct SeccompProgram {
  std::vector<sock_filter> instructions;
  unsigned flags = 0;  // SECCOMP_FILTER_FLAG_*
};

// Whether the container's process runs as soon as it is set up (the agent)
// or waits until StartGate::open (OCI create, then start).
enum class StartMode { immediate, gated };

// What to run is an OCI runtime-spec config (see oci_spec.hpp). An empty
// spec.root.path keeps the host's root filesystem (command tasks): then
// spec.process.cwd is a host path, the sandbox.
// The stdio paths are host paths, opened before any mount; an empty one
// leaves the caller's own descriptor in place.
// A root filesystem made of image layers: an overlay of `layers` (read-only,
// top first) under a writable `upper` directory, mounted onto spec.root.path
// in the container's own mount namespace, so it goes away with it. The
// layers are named relative to `layers_dir` (e.g. "sha256/<hex>"), which
// keeps the mount's option string short enough for deep images.
// In a user namespace the layers come as detached, idmapped mount trees
// (open_tree + MOUNT_ATTR_IDMAP, made by the caller, who may): the child
// attaches each at layers_dir/layers[i] in the container's own mount
// namespace, so nothing shows on the host, and mounts the overlay with
// "userxattr".
struct OverlayRootfs {
  std::filesystem::path layers_dir;
  std::vector<std::string> layers;  // top first
  std::filesystem::path upper;      // empty directories on the same filesystem
  std::filesystem::path work;
  std::vector<int> attach_fds = {};  // empty, or one detached tree per layer
  bool userxattr = false;
};

struct LaunchRequest {
  std::string container_id;
  oci::Spec spec;
  std::optional<OverlayRootfs> overlay;  // empty: spec.root.path is used as it is (bind)
  std::filesystem::path stdin_path = "/dev/null";
  std::filesystem::path stdout_path;      // created (0640) or appended
  std::filesystem::path stderr_path;
  std::filesystem::path runtime_dir;      // exists; the container's init writes "exit_status" here
  int cgroup_fd = -1;                     // O_DIRECTORY fd of the target cgroup (clone3 CLONE_INTO_CGROUP), -1 = stay in the caller's
  std::shared_ptr<const SeccompProgram> seccomp;  // null: no filter
  StartMode start = StartMode::immediate;
  const StepClock* step_clock = nullptr;  // to time the child's steps; null: not timed
};

// A user namespace mapping 0.. to `base`.. (`size` ids, uids and gids alike),
// held by no process: for idmapped mounts (OverlayRootfs::attach_fds).
Result<UniqueFd> make_user_namespace(std::uint32_t base, std::uint32_t size);

// A detached copy of the tree at `path` whose ids are shown through `userns_fd`.
Result<UniqueFd> idmapped_tree(const std::filesystem::path& path, int userns_fd);

// The container's init.
struct Launched {
  pid_t pid = -1;
  UniqueFd pidfd;
  std::uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat, to re-attach safely
  // Readable (non-blocking) once the task has ended and init has recorded its
  // status: the earliest word of the task's end, before init itself exits
  // and the container's namespaces are torn down. See read_exit_notice.
  UniqueFd exit_notice;
};

struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code, or signal number when signaled

  // "exited with status 3" / "killed by signal 9 (SIGKILL)"
  std::string describe() const;
  bool operator==(const ExitStatus&) const = default;
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Returns once the task has execve'd, or, with StartMode::gated, once the
  // container is set up and its init waits at the start gate (the executable
  // has then been found, but not yet run). A failure of any setup step comes
  // back as Error{"<step name>", errno, path}, e.g. {"execve", ENOENT,
  // "/no/such/cmd"}, and leaves no process behind. A gated container whose
  // task fails after the gate has no one to report to: the failure is written
  // to the container's stderr and the task exits 127.
  virtual Result<Launched> launch(const LaunchRequest& request) = 0;
};

class LinuxLauncher final : public Launcher {
 public:
  Result<Launched> launch(const LaunchRequest& request) override;
};

// The start gate of a container launched with StartMode::gated: a fifo in its
// runtime dir, created by launch(), that its init opens for writing once set
// up. open() lets init through (to fork the task and execve) and removes the
// fifo; it fails if init exits first or does not come through in `timeout`.
namespace start_gate {
Result<void> open(const std::filesystem::path& runtime_dir, int init_pidfd,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
}  // namespace start_gate

// What every launch shares, made once per process on first use: the sealed
// memfd holding berth-init (one close-on-exec fd, kept for the process's
// life). Calling it at start moves that cost, that fd and any error out of
// the first launch.
Result<void> prepare_launches();

// The task's status from Launched::exit_notice once it is readable. Error
// EAGAIN if the task still runs, or if init ended without telling (killed):
// the pidfd and read_exit_status() are then the word on it.
Result<ExitStatus> read_exit_notice(int exit_notice_fd);

// Decodes a wait(2) status; error unless it says exited or killed.
Result<ExitStatus> decode_wait_status(int wait_status);

// What init recorded in `<runtime_dir>/exit_status`; error if none or corrupt.
Result<ExitStatus> read_exit_status(const std::filesystem::path& runtime_dir);

// waitid(P_PIDFD, WEXITED) of a child of this process.
Result<ExitStatus> reap(int pidfd);

// Field 22 of /proc/<pid>/stat: clock ticks after boot at which it started.
Result<std::uint64_t> process_start_time(pid_t pid);

// Re-attaches to a container's init after an agent restart: pidfd_open(pid),
// then checks the start time still matches (guards against pid reuse). Error
// if the process is gone or is a different process.
Result<UniqueFd> attach(pid_t pid, std::uint64_t start_time);

}  // namespace berth::launcher
