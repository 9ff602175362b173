// Berth's default seccomp profile: what an ordinary Linux program needs is
// allowed; the calls that reach past a container (the kernel's keyrings,
// modules, clocks, mounts, namespaces, tracing, BPF) need the capability
// that governs them, so a container that was not given that capability gets
// EPERM. Close to Docker's default profile in what it allows.

#include <sched.h>

#include "berth/isolators/seccomp.hpp"

namespace berth::isolators::seccomp {
namespace {

// Allowed to every container.
const std::vector<std::string> kAllowed = {
    // files and descriptors
    "access", "close", "close_range", "copy_file_range", "creat", "dup", "dup2", "dup3", "faccessat",
    "faccessat2", "fadvise64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchown", "fchownat", "fcntl",
    "fdatasync", "flock", "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync",
    "ftruncate", "getcwd", "getdents", "getdents64", "getxattr", "lgetxattr", "link", "linkat", "listxattr",
    "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "mkdir", "mkdirat", "mknod", "mknodat",
    "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2",
    "read", "readahead", "readlink", "readlinkat", "readv", "removexattr", "rename", "renameat", "renameat2",
    "rmdir", "sendfile", "setxattr", "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "tee", "truncate", "umask", "unlink", "unlinkat", "utime", "utimensat",
    "utimes", "vmsplice", "write", "writev", "chdir", "chmod", "chown", "lchown", "memfd_create",
    // devices, terminals and sockets: what a request may do is the driver's and the capabilities' to say
    "ioctl",
    // events and polling
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd",
    "eventfd2", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "pipe", "pipe2", "poll", "ppoll", "pselect6", "select", "signalfd",
    "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_settime",
    // memory
    "brk", "madvise", "membarrier", "mincore", "mlock", "mlock2", "mlockall", "mmap", "mprotect", "mremap",
    "msync", "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "remap_file_pages",
    // processes, threads and signals
    "arch_prctl", "capget", "capset", "exit", "exit_group", "fork", "vfork", "execve", "execveat", "futex",
    "get_robust_list", "set_robust_list", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrlimit", "getrusage", "getsid", "gettid", "kill", "tkill", "tgkill", "pause", "pidfd_open",
    "pidfd_send_signal", "prctl", "prlimit64", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "set_tid_address", "setpgid", "setpriority",
    "setrlimit", "setsid", "sigaltstack", "wait4", "waitid", "ioprio_get", "ioprio_set", "restart_syscall",
    "seccomp",
    // identity
    "getegid", "geteuid", "getgid", "getgroups", "getresgid", "getresuid", "getuid", "setfsgid", "setfsuid",
    "setgid", "setgroups", "setregid", "setresgid", "setresuid", "setreuid", "setuid",
    // time
    "alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "getitimer", "gettimeofday", "nanosleep",
    "setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
    "times", "adjtimex",
    // networking (in the container's own network namespace, or the host's by the operator's choice)
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recvfrom",
    "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socket", "socketpair",
    // IPC (in the container's own IPC namespace)
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink", "msgctl",
    "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "shmat", "shmctl", "shmdt",
    "shmget",
    // system information
    "getcpu", "getrandom", "sysinfo", "uname", "ustat",
    // landlock restricts, it does not grant
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
};

// The namespace flags clone may only carry with CAP_SYS_ADMIN.
constexpr std::uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET | CLONE_NEWCGROUP;

// Calls allowed only to a container holding the capability.
const std::vector<std::pair<std::string, std::vector<std::string>>> kByCapability = {
    {"CAP_SYS_ADMIN",
     {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
      "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open", "pivot_root", "quotactl",
      "setdomainname", "sethostname", "setns", "syslog", "umount2", "unshare", "vhangup"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_CHROOT", {"chroot"}},
    {"CAP_SYS_MODULE", {"delete_module", "finit_module", "init_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE",
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
    {"CAP_SYS_TIME", {"clock_adjtime", "clock_settime", "settimeofday"}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
    {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "move_pages", "migrate_pages"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
};

Profile make_default_profile() {
  Profile profile;
  profile.default_action = Action::errno_code;
  profile.default_errno = EPERM;
  profile.rules.push_back(Rule{.names = kAllowed, .action = Action::allow});
  // personality(2): the queries and the harmless personas only.
  for (std::uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    profile.rules.push_back(Rule{.names = {"personality"},
                                 .action = Action::allow,
                                 .args = {ArgCondition{.index = 0, .value = persona, .op = Compare::equal}}});
  }
  // clone without namespace flags for everyone else; clone3, whose flags
  // are behind a pointer the filter cannot read, answers ENOSYS, and the C
  // library then falls back to clone.
  profile.rules.push_back(Rule{
      .names = {"clone"},
      .action = Action::allow,
      .args = {ArgCondition{.index = 0, .value = kNamespaceFlags, .value_two = 0, .op = Compare::masked_equal}},
      .caps_excluded = {"CAP_SYS_ADMIN"}});
  profile.rules.push_back(Rule{.names = {"clone3"},
                               .action = Action::errno_code,
                               .errno_code = ENOSYS,
                               .caps_excluded = {"CAP_SYS_ADMIN"}});
  for (const auto& [cap, names] : kByCapability) {
    profile.rules.push_back(Rule{.names = names, .action = Action::allow, .caps_required = {cap}});
  }
  return profile;
}

}  // namespace

const Profile& default_profile() {
  static const Profile profile = make_default_profile();
  return profile;
}

}  // namespace berth::isolators::seccomp
