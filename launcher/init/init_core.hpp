#pragma once
// The container's init after it has exec'd berth-init: supervision of the
// task and the record of its exit status. Freestanding: raw system calls
// only, no C library, so berth-init is a few kilobytes that exec fast; the
// same code is compiled into the launcher's unit tests.
//
// init holds what the task must never get: capabilities and a descriptor of
// the runtime dir on the host. It makes itself non-dumpable first (no
// ptrace, no /proc/1/{exe,fd,mem,environ} for the task), then keeps only
// CAP_KILL, to pass signals to a task of another uid. All signals stay
// blocked (as the launch child left them) and are taken synchronously.

#include <asm/unistd.h>
#include <linux/capability.h>
#include <linux/prctl.h>

#include <cstddef>
#include <cstdint>

namespace berth::launcher::init {

// The file init writes in the runtime dir: the task's wait(2) status in decimal.
inline constexpr char kExitStatusFile[] = "exit_status";
inline constexpr char kExitStatusTmp[] = "exit_status.tmp";
// init's descriptor of the runtime dir (an O_PATH directory).
inline constexpr int kRuntimeDirFd = 4;
// What init exits with when it cannot supervise at all.
inline constexpr int kInitFailed = 125;

// --- raw system calls: the result, or -errno -------------------------------

inline long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long ret;
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  ret = x0;
#else
#error "berth-init supports x86_64 and aarch64"
#endif
  return ret;
}

[[noreturn]] inline void exit_group(int code) {
  for (;;) sys(__NR_exit_group, code);
}

// --- small pieces, unit-tested ---------------------------------------------

inline std::size_t format_decimal(unsigned value, char* out) {
  char digits[16];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (std::size_t i = 0; i < count; ++i) out[i] = digits[count - 1 - i];
  return count;
}

// A decimal of at most 9 digits; -1 if `text` is anything else.
inline long parse_decimal(const char* text) {
  if (text == nullptr || *text == '\0') return -1;
  long value = 0;
  int digits = 0;
  for (; *text != '\0'; ++text, ++digits) {
    if (*text < '0' || *text > '9' || digits == 9) return -1;
    value = value * 10 + (*text - '0');
  }
  return value;
}

// init's own exit code for the task's wait status, as a shell reports it.
inline int exit_code_for(int wait_status) {
  int signal = wait_status & 0x7f;
  return signal != 0 ? 128 + signal : (wait_status >> 8) & 0xff;
}

// Signals an orchestrator or a user sends to stop or poke the container; init
// passes them on, as tini and dumb-init do.
inline bool is_forwarded(long sig) {
  return sig == 15 /*TERM*/ || sig == 2 /*INT*/ || sig == 1 /*HUP*/ || sig == 3 /*QUIT*/ || sig == 10 /*USR1*/ ||
         sig == 12 /*USR2*/;
}

// Writes "<wait status>\n" to <dir>/exit_status atomically: a temporary,
// then rename, so a reader sees no file or the whole status. 0 or an errno.
inline int write_exit_status(int dir_fd, int wait_status) {
  constexpr long kAtFlags = 0;
  char text[16];
  std::size_t length = format_decimal(static_cast<unsigned>(wait_status), text);
  text[length++] = '\n';
  constexpr long kCreate = 01 | 0100 | 01000 | 02000000;  // O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
  long fd = sys(__NR_openat, dir_fd, reinterpret_cast<long>(kExitStatusTmp), kCreate, 0644);
  if (fd < 0) return static_cast<int>(-fd);
  long written = sys(__NR_write, fd, reinterpret_cast<long>(text), static_cast<long>(length));
  sys(__NR_close, fd);
  if (written < 0) return static_cast<int>(-written);
  if (static_cast<std::size_t>(written) != length) return 5;  // EIO
  long renamed = sys(__NR_renameat2, dir_fd, reinterpret_cast<long>(kExitStatusTmp), dir_fd,
                     reinterpret_cast<long>(kExitStatusFile), kAtFlags);
  return renamed < 0 ? static_cast<int>(-renamed) : 0;
}

// --- the init ---------------------------------------------------------------

// Non-dumpable first: until then init holds every capability of the
// namespace's root, more than the task, which therefore cannot ptrace it.
inline int harden() {
  long r = sys(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (r < 0) return static_cast<int>(-r);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  data[0].effective = data[0].permitted = 1U << CAP_KILL;
  r = sys(__NR_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
  return r < 0 ? static_cast<int>(-r) : 0;
}

// Reaps every exited child (init inherits all orphans of the container).
// True once the task itself has been reaped, with its status.
inline bool reap_children(long task_pid, int& task_status) {
  bool task_ended = false;
  for (;;) {
    int status = 0;
    constexpr long kNoHangAllChildren = 0x1 | 0x40000000;  // WNOHANG | __WALL (<linux/wait.h> clashes with glibc's)
    long pid = sys(__NR_wait4, -1, reinterpret_cast<long>(&status), kNoHangAllChildren, 0);
    if (pid <= 0) return task_ended;
    if (pid == task_pid) {
      task_status = status;
      task_ended = true;
    }
  }
}

// Times the moments a benchmark wants to know of, in a shared mapping the
// launcher passed (see step_clock.hpp); a no-op without one.
struct Clock {
  std::uint64_t* records = nullptr;
  void mark(std::size_t index) const {
    if (records == nullptr) return;
    struct {
      long sec, nsec;
    } now{};
    sys(__NR_clock_gettime, 1 /*CLOCK_MONOTONIC*/, reinterpret_cast<long>(&now));
    __atomic_store_n(&records[index], static_cast<std::uint64_t>(now.sec) * 1000000000u + static_cast<std::uint64_t>(now.nsec),
                     __ATOMIC_RELAXED);
  }
};

// Until the task ends: forward signals, reap orphans. Then record the task's
// status and exit with its code.
// The launcher's early word of the task's end: the wait status (a native
// int) on a pipe it holds, written once the status is on record, so that it
// need not wait for init's own exit and the namespaces' teardown.
inline void notify_exit(int notice_fd, int wait_status) {
  if (notice_fd < 0) return;
  sys(__NR_write, notice_fd, reinterpret_cast<long>(&wait_status), sizeof wait_status);
  sys(__NR_close, notice_fd);
}

[[noreturn]] inline void supervise(long task_pid, int runtime_dir_fd, int notice_fd, const Clock& clock,
                                   std::size_t reaped_record, std::size_t written_record) {
  std::uint64_t all = ~std::uint64_t{0};
  for (;;) {
    unsigned char info[128];
    long sig = sys(__NR_rt_sigtimedwait, reinterpret_cast<long>(&all), reinterpret_cast<long>(info), 0, sizeof all);
    if (sig == 17 /*CHLD*/) {
      int status = 0;
      if (!reap_children(task_pid, status)) continue;
      clock.mark(reaped_record);
      // Nothing to report to if this fails: the agent falls back to init's exit code.
      (void)write_exit_status(runtime_dir_fd, status);
      clock.mark(written_record);
      notify_exit(notice_fd, status);
      exit_group(exit_code_for(status));
    }
    if (is_forwarded(sig)) sys(__NR_kill, task_pid, sig);
  }
}

}  // namespace berth::launcher::init
