// The parent side of a launch: clone3 the container's init and learn, through
// a close-on-exec pipe, whether the task reached execve.

#include "berth/launcher/launcher.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <optional>
#include <thread>

#include "berth/launcher/child_plan.hpp"
#include "berth/launcher/child_steps.hpp"
#include "init_image.hpp"
#include "raw_syscall.hpp"

extern "C" long berth_clone3_run(clone_args* args, std::size_t size, int (*fn)(void*), void* arg);

namespace berth::launcher {

namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_sys("pipe2");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<void> write_proc_file(pid_t pid, const char* name, const std::string& text) {
  auto path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", path);
  // One write: the kernel takes a map whole or not at all.
  ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) return fail_sys("write", path);
  if (static_cast<std::size_t>(n) != text.size()) return fail(Error("short write", EIO, path));
  return {};
}

// A privileged parent may map any ids. setgroups is denied unless the task
// needs additional gids: with no gid mapped to a group the host relies on for
// denial, a container must not be able to drop it (CVE-2014-8989).
Result<void> write_id_maps(pid_t pid, const oci::Spec& spec) {
  const auto& l = spec.linux_config;
  BERTH_TRY_VOID(with_context(write_proc_file(pid, "uid_map", id_map_text(l.uid_mappings)), "linux.uidMappings"));
  const char* setgroups = spec.process.user.additional_gids.empty() ? "deny" : "allow";
  BERTH_TRY_VOID(write_proc_file(pid, "setgroups", setgroups));
  return with_context(write_proc_file(pid, "gid_map", id_map_text(l.gid_mappings)), "linux.gidMappings");
}

// The child of make_user_namespace only waits for its parent to let it go:
// it shares the parent's memory (CLONE_VM), not its descriptors, so it first
// closes its own copy of the pipe's write end, then reads until the parent
// closes the other. It shares the parent's thread pointer too, so it makes
// raw calls only, which leave the parent's errno alone.
int wait_to_exit(void* pipe_fds) {
  const int* fds = static_cast<const int*>(pipe_fds);
  raw::sys(__NR_close, fds[1]);
  char byte;
  while (raw::sys(__NR_read, fds[0], reinterpret_cast<long>(&byte), 1) == -EINTR) {
  }
  return 0;
}

// Blocks every signal in this thread for its lifetime, so that no handler of
// the agent runs in the child between clone3 and init's own signal reset.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t saved_;
};

struct Spawned {
  pid_t pid;
  UniqueFd pidfd;
};

// The stacks init and the task run on while they borrow this process's
// memory; one pair per launching thread, made on its first launch.
struct ChildStacks {
  alignas(64) char init[256 * 1024];
  alignas(64) char task[64 * 1024];
};

ChildStacks& thread_stacks() {
  thread_local auto stacks = std::make_unique<ChildStacks>();
  return *stacks;
}

struct InitStart {
  const ChildPlan* plan;
  ChildState* state;
};

int init_entry(void* start) {
  auto* init = static_cast<InitStart*>(start);
  run_init(*init->plan, *init->state);
}

// clone3 with CLONE_VM | CLONE_VFORK: init borrows this process's memory on
// its own stack instead of copying the page tables of the whole process
// (and making every later write of this process a copy-on-write fault); the
// calling thread sleeps until init has exec'd berth-init or died.
Result<Spawned> clone_vfork(const ChildPlan& plan, ChildState& state, int cgroup_fd, ChildStacks& stacks,
                            pid_t* parent_tid = nullptr) {
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | static_cast<std::uint64_t>(plan.namespaces());
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uint64_t>(stacks.init);
  args.stack_size = sizeof stacks.init;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  }
  if (parent_tid != nullptr) {
    args.flags |= CLONE_PARENT_SETTID;
    args.parent_tid = reinterpret_cast<std::uint64_t>(parent_tid);
  }
  state.task_stack_top = stacks.task + sizeof stacks.task;
  InitStart start{&plan, &state};
  long pid;
  {
    SignalsBlocked blocked;
    pid = berth_clone3_run(&args, sizeof args, init_entry, &start);
  }
  if (pid < 0) return fail(Error::sys("clone3", static_cast<int>(-pid), {}));
  return Spawned{static_cast<pid_t>(pid), UniqueFd(pidfd)};
}

// With a new user namespace, init waits for its uid and gid maps, which
// only a process outside can write; the thread that clones is asleep until
// init exec's, so a short-lived thread clones and this one writes the maps
// once init says it runs (the kernel has put its pid in `child` by then).
Result<Spawned> clone_with_id_maps(const ChildPlan& plan, ChildState& state, int cgroup_fd) {
  BERTH_TRY(auto started, make_pipe());
  BERTH_TRY(auto sync, make_pipe());
  state.started_fd = started.write_end.get();
  state.sync_fd = sync.read_end.get();
  pid_t child = 0;
  Result<Spawned> spawned = fail("clone3 did not run");
  auto& stacks = thread_stacks();
  std::thread cloner([&] {
    spawned = clone_vfork(plan, state, cgroup_fd, stacks, &child);
    // From here, EOF on `started` if init died before saying it runs.
    started.write_end.reset();
  });
  char byte = 0;
  ssize_t n;
  while ((n = ::read(started.read_end.get(), &byte, 1)) < 0 && errno == EINTR) {
  }
  Result<void> mapped = fail("the container's init ended before its id maps were written");
  if (n == 1) {
    mapped = write_id_maps(__atomic_load_n(&child, __ATOMIC_ACQUIRE), plan.spec());
    if (mapped && ::write(sync.write_end.get(), "x", 1) != 1) mapped = fail_sys("write sync pipe");
  }
  // init holds a copy of the sync pipe's write end, so closing ours would
  // not end its wait: a failed mapping has to kill it. It is the cloning
  // thread's child, not yet reaped, so its pid is still its own.
  if (n == 1 && !mapped) ::kill(child, SIGKILL);
  sync.write_end.reset();
  cloner.join();
  if (!spawned) return spawned;
  if (!mapped) {
    ::syscall(SYS_pidfd_send_signal, spawned->pidfd.get(), SIGKILL, nullptr, 0);
    (void)reap(spawned->pidfd.get());
    return std::unexpected(std::move(mapped).error());
  }
  return spawned;
}

// EOF without a report means the task execve'd (or init died on its own,
// which the caller learns from the pidfd).
Result<std::optional<ChildFailure>> read_failure(int fd) {
  ChildFailure failure;
  auto* bytes = reinterpret_cast<char*>(&failure);
  std::size_t got = 0;
  while (got < sizeof failure) {
    ssize_t n = ::read(fd, bytes + got, sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("read error pipe");
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got == 0) return std::nullopt;
  if (got < sizeof failure) return fail("launch: truncated report from the child");
  return failure;
}

// Leaves nothing of a failed launch: init is killed (with it the task, if any)
// and reaped, and a status it may have recorded for a task that never ran is removed.
void discard(const Spawned& init, const LaunchRequest& request) {
  ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGKILL, nullptr, 0);
  (void)reap(init.pidfd.get());
  std::error_code ignored;
  std::filesystem::remove(request.runtime_dir / kExitStatusFile, ignored);
  std::filesystem::remove(request.runtime_dir / (std::string(kExitStatusFile) + ".tmp"), ignored);
  if (request.start == StartMode::gated) std::filesystem::remove(request.runtime_dir / kStartGateFile, ignored);
}

// The fifo a gated init blocks on; only the owner may open it.
Result<void> make_start_gate(const LaunchRequest& request) {
  if (request.start != StartMode::gated) return {};
  auto gate = request.runtime_dir / kStartGateFile;
  if (::mkfifo(gate.c_str(), 0600) != 0) return fail_sys("mkfifo", gate);
  return {};
}

Error child_error(const ChildPlan& plan, const ChildFailure& failure) {
  if (failure.step >= kChildStepCount) return Error("launch: unknown child step " + std::to_string(failure.step));
  auto step = static_cast<ChildStep>(failure.step);
  return Error(std::string(step_name(step)), failure.error, plan.path_for(step, failure.index));
}

// clone3, then the parent's half of the handshake: id maps for a user
// namespace, then the child's report.
Result<Launched> start_container(const ChildPlan& plan) {
  const auto& request = plan.request();
  BERTH_TRY(int init_image, init_image_fd());
  BERTH_TRY(auto error_pipe, make_pipe());
  BERTH_TRY(auto notice_pipe, make_pipe());
  if (::fcntl(notice_pipe.read_end.get(), F_SETFL, O_NONBLOCK) != 0) return fail_sys("fcntl exit notice pipe");
  ChildState state{.error_fd = error_pipe.write_end.get(),
                   .init_image_fd = init_image,
                   .exit_notice_fd = notice_pipe.write_end.get()};
  if (request.step_clock != nullptr) {
    state.records = request.step_clock->records();
    state.step_clock_fd = request.step_clock->fd();
  }
  record_time(state, kCloneStartRecord);
  auto spawned = plan.has_namespace(CLONE_NEWUSER) ? clone_with_id_maps(plan, state, request.cgroup_fd)
                                                   : clone_vfork(plan, state, request.cgroup_fd, thread_stacks());
  if (!spawned) return std::unexpected(std::move(spawned).error());
  auto& init = *spawned;
  error_pipe.write_end.reset();
  notice_pipe.write_end.reset();

  // init has exec'd or died; a gated task may still be setting up.
  auto failure = read_failure(error_pipe.read_end.get());
  if (!failure || *failure) {
    discard(init, request);
    if (!failure) return std::unexpected(std::move(failure).error());
    return fail(child_error(plan, **failure));
  }
  // init is our unreaped child, so its pid cannot have been reused yet.
  auto start_time = process_start_time(init.pid);
  if (!start_time) {
    discard(init, request);
    return std::unexpected(std::move(start_time).error());
  }
  return Launched{init.pid, std::move(init.pidfd), *start_time, std::move(notice_pipe.read_end)};
}

}  // namespace

Result<Launched> LinuxLauncher::launch(const LaunchRequest& request) {
  BERTH_TRY_VOID(validate(request));
  ChildPlan plan(request);
  BERTH_TRY_VOID(plan.open_joined_namespaces());
  BERTH_TRY_VOID(make_start_gate(request));
  auto launched = start_container(plan);
  if (!launched && request.start == StartMode::gated) {
    std::error_code ignored;
    std::filesystem::remove(request.runtime_dir / kStartGateFile, ignored);
  }
  return launched;
}

Result<UniqueFd> make_user_namespace(std::uint32_t base, std::uint32_t size) {
  BERTH_TRY(auto pipe, make_pipe());
  alignas(16) static thread_local std::array<char, 16384> stack;
  int child_fds[2] = {pipe.read_end.get(), pipe.write_end.get()};
  pid_t pid = ::clone(wait_to_exit, stack.data() + stack.size(), CLONE_NEWUSER | CLONE_VM | SIGCHLD, child_fds);
  if (pid < 0) return fail_sys("clone(CLONE_NEWUSER)");
  auto mapped = [&]() -> Result<UniqueFd> {
    oci::Spec maps;  // no additional gids: setgroups denied, as for a container
    maps.linux_config.uid_mappings = {{0, base, size}};
    maps.linux_config.gid_mappings = {{0, base, size}};
    BERTH_TRY_VOID(write_id_maps(pid, maps));
    auto ns_path = "/proc/" + std::to_string(pid) + "/ns/user";
    UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return fail_sys("open", ns_path);
    return ns;
  }();
  pipe.write_end.reset();  // the child reads end of file and exits
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return mapped;
}

Result<UniqueFd> idmapped_tree(const std::filesystem::path& path, int userns_fd) {
  UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!tree) return fail_sys("open_tree", path.string());
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<std::uint64_t>(userns_fd);
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return fail_sys("mount_setattr(MOUNT_ATTR_IDMAP)", path.string());
  }
  return tree;
}

}  // namespace berth::launcher
