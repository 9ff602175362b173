// The workloads of vm_workloads.hpp. They run inside containers with small
// limits, so they use plain system calls and little memory of their own.

#include "vm/vm_workloads.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace berth::vm {
namespace {

constexpr std::size_t kMiB = 1 << 20;
constexpr std::size_t kPage = 4096;

// One write(2) per line: the fork bomb's processes share an O_APPEND stdout,
// and whole lines keep the test's line count exact.
void say(const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(STDOUT_FILENO, text.data(), text.size());
}

std::string errno_name(int error) {
  const char* name = ::strerrorname_np(error);
  return name != nullptr ? name : std::to_string(error);
}

double seconds(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

int allocate(std::size_t megabytes) {
  // Charged page by page as it is touched: memory.max counts what is
  // touched, not what is mapped.
  auto* memory = static_cast<volatile char*>(
      ::mmap(nullptr, megabytes * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (memory == MAP_FAILED) {
    say("mmap: " + errno_name(errno));
    return 1;
  }
  for (std::size_t touched = 0; touched < megabytes * kMiB; touched += kPage) memory[touched] = 1;
  say("allocated " + std::to_string(megabytes));
  for (;;) ::pause();
}

// Each process, the children included, forks until the kernel refuses, then
// holds its pid (pause) so the count stays at the limit and every process
// reports exactly once.
[[noreturn]] int fork_bomb() {
  for (;;) {
    pid_t pid = ::fork();
    if (pid == 0) continue;
    if (pid < 0) {
      say("fork: " + errno_name(errno));
      for (;;) ::pause();
    }
  }
}

int busy_loop(double duration) {
  say("busy");
  double start = seconds(CLOCK_MONOTONIC);
  double cpu_start = seconds(CLOCK_PROCESS_CPUTIME_ID);
  while (seconds(CLOCK_MONOTONIC) - start < duration) {
  }
  say("wall " + std::to_string(seconds(CLOCK_MONOTONIC) - start) + " cpu " +
      std::to_string(seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start));
  return 0;
}

// O_DIRECT: io.max throttles bios as they are submitted, and buffered writes
// are only submitted at writeback, long after write(2) returned.
int write_disk(const char* device, std::size_t megabytes) {
  int fd = ::open(device, O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    say("open " + std::string(device) + ": " + errno_name(errno));
    return 1;
  }
  void* buffer = nullptr;
  if (::posix_memalign(&buffer, kPage, kMiB) != 0) return 1;
  std::memset(buffer, 0x5a, kMiB);
  say("writing");
  double start = seconds(CLOCK_MONOTONIC);
  for (std::size_t i = 0; i < megabytes; ++i) {
    ssize_t written = ::pwrite(fd, buffer, kMiB, static_cast<off_t>(i * kMiB));
    if (written != static_cast<ssize_t>(kMiB)) {
      say("pwrite: " + (written < 0 ? errno_name(errno) : "short write"));
      return 1;
    }
  }
  if (::fdatasync(fd) != 0) {
    say("fdatasync: " + errno_name(errno));
    return 1;
  }
  say("wrote " + std::to_string(megabytes) + " MiB in " + std::to_string(seconds(CLOCK_MONOTONIC) - start) + " s");
  return 0;
}

int open_devices(int count, char** paths) {
  for (int i = 0; i < count; ++i) {
    int fd = ::open(paths[i], O_RDWR | O_NONBLOCK | O_CLOEXEC);
    say(std::string(paths[i]) + ": " + (fd >= 0 ? "ok" : errno_name(errno)));
    if (fd >= 0) ::close(fd);
  }
  return 0;
}

}  // namespace

std::optional<int> run_workload(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  std::string_view mode = argv[1];
  int rest = argc - 2;
  char** args = argv + 2;
  if (mode == "--allocate" && rest == 1) return allocate(std::strtoul(args[0], nullptr, 10));
  if (mode == "--fork-bomb" && rest == 0) fork_bomb();
  if (mode == "--busy-loop" && rest == 1) return busy_loop(std::strtod(args[0], nullptr));
  if (mode == "--write-disk" && rest == 2) return write_disk(args[0], std::strtoul(args[1], nullptr, 10));
  if (mode == "--open-devices") return open_devices(rest, args);
  for (std::string_view known : {"--allocate", "--fork-bomb", "--busy-loop", "--write-disk"}) {
    if (mode == known) {
      say("wrong arguments for " + std::string(mode) + " (see vm_workloads.hpp)");
      return 2;
    }
  }
  return std::nullopt;
}

}  // namespace berth::vm
