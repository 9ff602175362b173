// berth-init: what the container's init exec's once the container is set up
// and the task started (launcher.hpp tells the whole structure):
//
//   berth-init <task pid> <step clock fd | -> <exit notice fd | ->
//
// Its runtime dir is open as fd 4. Built freestanding and embedded in the
// launcher, which runs it from a sealed memfd: a task that reached the file
// could not change it (CVE-2019-5736).

#include <asm/unistd.h>
#include <linux/mman.h>

#include "init_core.hpp"
#include "berth/launcher/step_clock_layout.hpp"

namespace {

using namespace berth::launcher::init;

std::uint64_t* map_records(long fd) {
  if (fd < 0) return nullptr;
  long size = static_cast<long>(berth::launcher::kStepRecordsBytes);
  long address = sys(__NR_mmap, 0, size, 3 /*PROT_READ | PROT_WRITE*/, MAP_SHARED, fd, 0);
  sys(__NR_close, fd);
  return address < 0 && address > -4096 ? nullptr : reinterpret_cast<std::uint64_t*>(address);
}

[[noreturn]] void init_main(long argc, char** argv) {
  long task_pid = argc >= 2 ? parse_decimal(argv[1]) : -1;
  long records_fd = argc >= 3 ? parse_decimal(argv[2]) : -1;  // "-": none
  long notice_fd = argc >= 4 ? parse_decimal(argv[3]) : -1;
  if (task_pid <= 0) exit_group(kInitFailed);
  if (harden() != 0) {
    // Not hardened, not safe to keep: the container goes (pid 1, or its
    // parent-death signal, takes the task along).
    exit_group(kInitFailed);
  }
  Clock clock{map_records(records_fd)};
  clock.mark(berth::launcher::kInitRunningRecord);
  supervise(task_pid, kRuntimeDirFd, static_cast<int>(notice_fd), clock, berth::launcher::kTaskReapedRecord,
            berth::launcher::kStatusWrittenRecord);
}

}  // namespace

// The kernel starts us with argc at the stack pointer, argv after it.
extern "C" [[noreturn]] void berth_init_start(long* stack) { init_main(stack[0], reinterpret_cast<char**>(stack + 1)); }

#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n xor %ebp, %ebp\n mov %rsp, %rdi\n and $-16, %rsp\n call berth_init_start\n hlt\n");
#elif defined(__aarch64__)
__asm__(".text\n.global _start\n_start:\n mov x29, #0\n mov x30, #0\n mov x0, sp\n bl berth_init_start\n");
#endif

// The compiler may call these for struct copies and zeroing; there is no C library to provide them.
extern "C" void* memset(void* destination, int value, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(destination);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<unsigned char>(value);
  return destination;
}

extern "C" void* memcpy(void* destination, const void* source, std::size_t size) {
  auto* to = static_cast<unsigned char*>(destination);
  const auto* from = static_cast<const unsigned char*>(source);
  for (std::size_t i = 0; i < size; ++i) to[i] = from[i];
  return destination;
}
