// Run inside a container by the escape tests: tries each way out of a
// container with raw system calls and prints one line per attempt,
//   <name> <errno name or "ok"> [detail]
// so the test can check that each failed with the expected error. It also
// reports what the container holds (capabilities, no_new_privs, open
// descriptors) and that ordinary work (fork and exec, pipes, sockets) works.
//
//   escape_probe HOST_PID [HOST_DISK [HOST_PATH]]
//   escape_probe --ids

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>

namespace {

void report(const char* name, long result, const std::string& detail = {}) {
  const char* outcome = result >= 0 ? "ok" : strerrorname_np(errno);
  std::printf("%s %s%s%s\n", name, outcome ? outcome : "?", detail.empty() ? "" : " ", detail.c_str());
}

// How many bytes a file gives (masked files give none).
void report_read(const char* name, const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return report(name, -1);
  char buffer[4096];
  long total = 0;
  for (int i = 0; i < 16; ++i) {
    auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      ::close(fd);
      return report(name, -1);
    }
    if (n == 0) break;
    total += n;
  }
  ::close(fd);
  report(name, 0, "bytes=" + std::to_string(total));
}

void report_entries(const char* name, const char* path) {
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return report(name, -1);
  int entries = 0;
  while (auto* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++entries;
  }
  ::closedir(dir);
  report(name, 0, "entries=" + std::to_string(entries));
}

std::string status_field(const char* field) {
  FILE* status = std::fopen("/proc/self/status", "re");
  if (status == nullptr) return "?";
  char line[256];
  std::string out = "?";
  while (std::fgets(line, sizeof line, status)) {
    if (std::strncmp(line, field, std::strlen(field)) == 0) {  // "Name:" with its colon
      out = line + std::strlen(field);
      while (!out.empty() && (out.front() == '\t' || out.front() == ' ')) out.erase(0, 1);
      while (!out.empty() && out.back() == '\n') out.pop_back();
    }
  }
  std::fclose(status);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc > 1 && std::strcmp(argv[1], "--ids") == 0) {
    // For a setuid copy of the probe: does the set-user-id bit take?
    std::printf("uid %u euid %u\n", ::getuid(), ::geteuid());
    return 0;
  }
  pid_t host_pid = argc > 1 ? static_cast<pid_t>(std::atoi(argv[1])) : 1;

  // What the container holds, before anything else opens a descriptor.
  int open_fds = 0;
  if (DIR* fds = ::opendir("/proc/self/fd")) {
    while (auto* entry = ::readdir(fds)) open_fds += entry->d_name[0] != '.';
    ::closedir(fds);
  }
  report("fds", 0, "count=" + std::to_string(open_fds - 1));  // less the directory's own
  report("no_new_privs", 0, "value=" + std::to_string(::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)));
  report("cap_eff", 0, "value=" + status_field("CapEff:"));
  report("cap_bnd", 0, "value=" + status_field("CapBnd:"));
  report("seccomp_mode", 0, "value=" + status_field("Seccomp:"));
  // CVE-2024-21626: the working directory is a path in the container, not a
  // directory of the runtime's that leaked in ("(unreachable)/...").
  char cwd[4096] = {};
  long got_cwd = ::getcwd(cwd, sizeof cwd) == nullptr ? -1 : 0;
  report("cwd", got_cwd, std::string("path=") + cwd);
  // CVE-2019-5736: the container's init is the runtime's binary; writing it
  // through /proc must fail.
  report("write_init_exe", ::open("/proc/1/exe", O_WRONLY | O_CLOEXEC));

  // Filesystems and namespaces.
  report("mount", ::mount("none", "/mnt", "tmpfs", 0, nullptr));
  report("umount", ::umount2("/proc", MNT_DETACH));
  report("unshare_mnt", ::unshare(CLONE_NEWNS));
  report("unshare_user", ::unshare(CLONE_NEWUSER));
  report("clone_newns", ::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
  int ns = ::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  report("setns", ns < 0 ? ns : ::setns(ns, 0));
  report("pivot_root", ::syscall(SYS_pivot_root, ".", "."));
  // Processes outside: the host's are not even visible.
  report("ptrace_attach", ::ptrace(PTRACE_ATTACH, 1, nullptr, nullptr));
  report("kill_host", ::kill(host_pid, 0));
  // The kernel itself.
  report("init_module", ::syscall(SYS_init_module, nullptr, 0, ""));
  report("finit_module", ::syscall(SYS_finit_module, -1, "", 0));
  union bpf_attr attr {};
  report("bpf", ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
  report("keyctl", ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  report("add_key", ::syscall(SYS_add_key, "user", "berth", "x", 1, KEY_SPEC_SESSION_KEYRING));
  struct perf_event_attr perf {};
  perf.size = sizeof perf;
  perf.type = PERF_TYPE_SOFTWARE;
  perf.config = PERF_COUNT_SW_CPU_CLOCK;
  report("perf_event_open", ::syscall(SYS_perf_event_open, &perf, 0, -1, -1, 0));
  report("reboot", ::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, 0));
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  report("clock_settime", ::clock_settime(CLOCK_REALTIME, &now));
  timeval tv{now.tv_sec, 0};
  report("settimeofday", ::settimeofday(&tv, nullptr));
  report("kexec_load", ::syscall(SYS_kexec_load, 0, 0, nullptr, 0));
  // /proc and /sys.
  report("write_proc_sys", ::open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC));
  report("write_sysrq", ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC));
  report_read("read_kcore", "/proc/kcore");
  report_read("read_keys", "/proc/keys");
  report_read("read_timer_list", "/proc/timer_list");
  report_entries("list_sys_firmware", "/sys/firmware");
  report("write_sys", ::open("/sys/kernel/profiling", O_WRONLY | O_CLOEXEC));
  // Devices.
  report("mknod_block", ::mknod("/tmp/berth-escape-blk", S_IFBLK | 0600, makedev(7, 0)));
  report("open_host_disk", ::open(argc > 2 ? argv[2] : "/dev/vda", O_RDONLY | O_CLOEXEC));
  // Limits.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  rlimit more{files.rlim_max + 1, files.rlim_max + 1};
  report("raise_rlimit", ::setrlimit(RLIMIT_NOFILE, &more));

  // Ordinary work still works.
  int pipe_fds[2];
  report("pipe", ::pipe2(pipe_fds, O_CLOEXEC));
  pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/true", "true", nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  report("fork_exec", child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : (errno = ECHILD, -1));
  int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  report("socket", sock);

  // The classic chroot breakout, in a child: chroot into a subdirectory
  // while keeping a way out, climb past it, chroot there. "seen=1" if the
  // host path given as argv[3] is then visible.
  if (argc > 3) {
    pid_t climber = ::fork();
    if (climber == 0) {
      ::mkdir("/tmp/berth-jail", 0700);
      int outside = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (outside < 0 || ::chroot("/tmp/berth-jail") != 0) ::_exit(2);
      if (::fchdir(outside) != 0) ::_exit(3);
      for (int i = 0; i < 64; ++i) (void)::chdir("..");
      if (::chroot(".") != 0) ::_exit(4);
      ::_exit(::access(argv[3], F_OK) == 0 ? 1 : 0);
    }
    int climbed = 0;
    ::waitpid(climber, &climbed, 0);
    int code = WIFEXITED(climbed) ? WEXITSTATUS(climbed) : -1;
    if (code == 0 || code == 1) {
      report("chroot_escape", 0, "seen=" + std::to_string(code));
    } else {
      errno = EPERM;
      report("chroot_escape", -1, "step=" + std::to_string(code));
    }
  }
  return 0;
}
