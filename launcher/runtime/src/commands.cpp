#include "berth/runtime/commands.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>

#include <chrono>
#include <ctime>
#include <cstring>

#include "berth/common/files.hpp"
#include "berth/isolators/cgroupfs.hpp"
#include "berth/launcher/launcher.hpp"
#include "berth/launcher/oci_spec.hpp"
#include "berth/runtime/state_store.hpp"

namespace berth::runtime {
namespace fs = std::filesystem;
namespace cgroupfs = isolators::cgroupfs;
using namespace std::chrono_literals;

namespace {


std::string now_rfc3339() {
  std::timespec ts{};
  std::timespec_get(&ts, TIME_UTC);
  std::tm utc{};
  ::gmtime_r(&ts.tv_sec, &utc);
  char text[64];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%09ldZ", ts.tv_nsec);
  return text;
}

Result<fs::path> cgroup2_mount() {
  for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    struct statfs info {};
    if (::statfs(mount, &info) == 0 && info.f_type == CGROUP2_SUPER_MAGIC) return fs::path(mount);
  }
  return fail("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified");
}

// Where containers' cgroups go: --cgroup-root, or <cgroup2 mount>/berth-runtime.
Result<fs::path> containers_cgroup(const GlobalOptions& global) {
  if (global.cgroup_root.empty()) {
    BERTH_TRY(auto mount, with_context(cgroup2_mount(), "pass --cgroup-root"));
    return mount / "berth-runtime";
  }
  BERTH_TRY_VOID(with_context(cgroupfs::check_cgroup2(global.cgroup_root), "--cgroup-root"));
  return global.cgroup_root;
}

// linux.cgroupsPath: an absolute path is taken under the cgroup2 mount as it
// is; a relative one (or none: the container's id) under containers_cgroup.
Result<fs::path> cgroup_for(const GlobalOptions& global, const launcher::oci::Spec& spec, const std::string& id) {
  const auto& path = spec.linux_config.cgroups_path;
  fs::path relative = path.empty() ? fs::path(id) : fs::path(path).relative_path();
  for (const auto& part : relative) {
    if (part == "..") return fail("linux.cgroupsPath: '" + path + "' leaves the cgroup hierarchy");
  }
  if (path.empty() || path.front() != '/') {
    BERTH_TRY(auto parent, containers_cgroup(global));
    return parent / relative;
  }
  BERTH_TRY(auto mount, with_context(cgroup2_mount(), "linux.cgroupsPath"));
  return mount / relative;
}

// A pidfd polls readable once its process has exited, even while it waits,
// a zombie, for whichever process inherited it to reap it.
bool alive(const ContainerState& state) {
  if (state.pid <= 0) return false;
  auto pidfd = launcher::attach(state.pid, state.start_time);
  if (!pidfd) return false;
  pollfd exited{pidfd->get(), POLLIN, 0};
  return ::poll(&exited, 1, 0) == 0;
}

// The stored status, corrected by what the process table says.
ContainerState refreshed(ContainerState state) {
  if ((state.status == Status::created || state.status == Status::running) && !alive(state)) {
    state.status = Status::stopped;
  }
  return state;
}

// Undoes a create that did not finish: the init (if any), the cgroup, the state.
class CreateRollback {
 public:
  CreateRollback(StateStore& store, std::string id) : store_(store), id_(std::move(id)) {}
  ~CreateRollback() {
    if (committed_) return;
    if (init_) {
      ::syscall(SYS_pidfd_send_signal, init_->pidfd.get(), SIGKILL, nullptr, 0);
      (void)launcher::reap(init_->pidfd.get());
    }
    if (!cgroup_.empty()) (void)cgroupfs::destroy(cgroup_);
    (void)store_.remove(id_);
  }
  void cgroup(fs::path path) { cgroup_ = std::move(path); }
  void init(launcher::Launched* launched) { init_ = launched; }
  void commit() { committed_ = true; }

 private:
  StateStore& store_;
  std::string id_;
  fs::path cgroup_;
  launcher::Launched* init_ = nullptr;
  bool committed_ = false;
};

struct Created {
  ContainerState state;
  launcher::Launched init;
};

// `gated` (create) leaves the process at its start gate; `immediate` (run)
// starts it at once: nothing outside this command could run in between.
Result<Created> create_container(const GlobalOptions& global, const CreateOptions& options, StateStore& store,
                                 launcher::StartMode start) {
  BERTH_TRY(auto spec, launcher::oci::load_bundle(options.bundle));
  BERTH_TRY(auto lock, store.create(options.id));
  CreateRollback rollback(store, options.id);
  const auto dir = store.dir(options.id);

  BERTH_TRY(auto cgroup, cgroup_for(global, spec, options.id));
  if (fs::exists(cgroup)) return fail("cgroup " + cgroup.string() + " already exists");
  BERTH_TRY_VOID(files::make_dirs(cgroup));
  rollback.cgroup(cgroup);
  UniqueFd cgroup_fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) return fail_sys("open", cgroup.string());

  ContainerState state{.id = options.id,
                       .status = Status::creating,
                       .bundle = fs::absolute(options.bundle),
                       .cgroup = cgroup,
                       .created = now_rfc3339(),
                       .annotations = spec.annotations};
  BERTH_TRY_VOID(store.save(state));

  launcher::LaunchRequest request;
  request.container_id = options.id;
  request.spec = std::move(spec);
  request.runtime_dir = dir;
  request.start = start;
  // The container's stdio is the caller's.
  request.stdin_path.clear();
  request.cgroup_fd = cgroup_fd.get();
  launcher::LinuxLauncher launcher;
  BERTH_TRY(auto init, launcher.launch(request));
  rollback.init(&init);

  state.status = start == launcher::StartMode::gated ? Status::created : Status::running;
  state.pid = init.pid;
  state.start_time = init.start_time;
  BERTH_TRY_VOID(store.save(state));
  if (!options.pid_file.empty()) {
    BERTH_TRY_VOID(with_context(files::write_atomic(options.pid_file, std::to_string(init.pid)), "--pid-file"));
  }
  rollback.commit();
  return Created{std::move(state), std::move(init)};
}

// Waits for the init to exit, passing on the signals a user sends to stop or
// poke `run` (the init forwards them to the process).
Result<void> wait_forwarding_signals(int pidfd) {
  sigset_t forwarded;
  ::sigemptyset(&forwarded);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaddset(&forwarded, sig);
  sigset_t saved;
  ::pthread_sigmask(SIG_BLOCK, &forwarded, &saved);
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  if (!signals) return fail_sys("signalfd");
  pollfd fds[2] = {{pidfd, POLLIN, 0}, {signals.get(), POLLIN, 0}};
  Result<void> result;
  while (true) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = fail_sys("poll");
      break;
    }
    if (fds[0].revents & POLLIN) break;
    signalfd_siginfo info{};
    if (::read(signals.get(), &info, sizeof info) == sizeof info) {
      ::syscall(SYS_pidfd_send_signal, pidfd, static_cast<int>(info.ssi_signo), nullptr, 0);
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return result;
}

}  // namespace

Result<int> parse_signal(std::string_view text) {
  if (text.empty()) return fail("empty signal");
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    int number = 0;
    for (char c : text) number = number * 10 + (c - '0');
    if (number >= 1 && number <= 64 && text.size() <= 2) return number;
    return fail("signal number " + std::string(text) + " is out of range 1-64");
  }
  std::string name(text);
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  return fail("unknown signal '" + std::string(text) + "'");
}

Result<void> create(const GlobalOptions& global, const CreateOptions& options) {
  StateStore store(global.root);
  BERTH_TRY(auto created, create_container(global, options, store, launcher::StartMode::gated));
  return {};
}

Result<void> start(const GlobalOptions& global, const std::string& id) {
  StateStore store(global.root);
  BERTH_TRY(auto lock, store.lock(id));
  BERTH_TRY(auto state, store.load(id));
  state = refreshed(std::move(state));
  if (state.status != Status::created) {
    return fail("container '" + id + "' is " + std::string(status_name(state.status)) + ", not created");
  }
  BERTH_TRY(auto pidfd, launcher::attach(state.pid, state.start_time));
  BERTH_TRY_VOID(launcher::start_gate::open(store.dir(id), pidfd.get()));
  state.status = Status::running;
  return store.save(state);
}

Result<void> state(const GlobalOptions& global, const std::string& id, std::ostream& out) {
  StateStore store(global.root);
  BERTH_TRY(auto lock, store.lock(id));
  BERTH_TRY(auto loaded, store.load(id));
  out << state_json(refreshed(std::move(loaded))) << '\n';
  return {};
}

Result<void> kill(const GlobalOptions& global, const std::string& id, int signal) {
  StateStore store(global.root);
  BERTH_TRY(auto lock, store.lock(id));
  BERTH_TRY(auto loaded, store.load(id));
  auto current = refreshed(std::move(loaded));
  if (current.status != Status::created && current.status != Status::running) {
    return fail("container '" + id + "' is " + std::string(status_name(current.status)) + ": nothing to signal");
  }
  BERTH_TRY(auto pidfd, launcher::attach(current.pid, current.start_time));
  // A created container runs none of the user's processes yet, and its init
  // only passes signals on to one: any signal stops it.
  int sent = current.status == Status::created ? SIGKILL : signal;
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sent, nullptr, 0) != 0) {
    return fail_sys("pidfd_send_signal", "container " + id);
  }
  return {};
}

Result<void> destroy(const GlobalOptions& global, const std::string& id, bool force) {
  StateStore store(global.root);
  BERTH_TRY(auto lock, store.lock(id));
  auto loaded = store.load(id);
  if (loaded) {
    auto current = refreshed(*loaded);
    if (current.status == Status::running && !force) {
      return fail("container '" + id + "' is running: kill it first or use --force");
    }
    // Killing the cgroup takes the init and everything it left behind.
    if (!current.cgroup.empty()) BERTH_TRY_VOID(with_context(cgroupfs::destroy(current.cgroup), "remove cgroup"));
  }
  return store.remove(id);
}

Result<int> run(const GlobalOptions& global, const CreateOptions& options) {
  StateStore store(global.root);
  BERTH_TRY(auto created, create_container(global, options, store, launcher::StartMode::immediate));
  auto finish = [&]() -> Result<int> {
    BERTH_TRY_VOID(wait_forwarding_signals(created.init.pidfd.get()));
    BERTH_TRY(auto exit, launcher::reap(created.init.pidfd.get()));
    auto recorded = launcher::read_exit_status(store.dir(options.id));
    if (recorded) exit = *recorded;
    return exit.signaled ? 128 + exit.code : exit.code;
  };
  auto code = finish();
  if (!code) {
    ::syscall(SYS_pidfd_send_signal, created.init.pidfd.get(), SIGKILL, nullptr, 0);
    (void)launcher::reap(created.init.pidfd.get());
  }
  auto removed = destroy(global, options.id, true);
  if (!code) return code;
  BERTH_TRY_VOID(removed);
  return code;
}

}  // namespace berth::runtime
