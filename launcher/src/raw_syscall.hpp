#pragma once
// Thin helpers for the launch child, which makes raw system calls only:
// glibc wrappers may take locks or keep per-thread state that a raw clone
// leaves inconsistent. The task runs beside the launching thread in the same
// memory, with the same thread pointer, so its code must not even set errno
// (the launching thread's): it uses sys(), which returns -errno instead.

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "../init/init_core.hpp"
#include "berth/launcher/child_steps.hpp"

namespace berth::launcher::raw {

using init::sys;

// 0 on success, else the errno of the call that just returned `result`
// through glibc's syscall(); for init's steps, which run while the launching
// thread sleeps.
inline int errno_of(long result) { return result < 0 ? errno : 0; }

// 0, or the errno that sys() returned as `result`.
inline int error_of(long result) { return result < 0 ? static_cast<int>(-result) : 0; }

[[noreturn]] inline void exit_now(int code) { init::exit_group(code); }

// Writes "berth: container setup failed: <step>: <strerror>\n" to stderr, for a
// gated container whose launcher has gone: there is no parent to tell.
inline void describe_failure(ChildStep step, int error) {
  char line[160];
  std::size_t length = 0;
  auto append = [&](std::string_view text) {
    for (char c : text) {
      if (length < sizeof line) line[length++] = c;
    }
  };
  append("berth: container setup failed: ");
  append(step_name(step));
  append(": ");
  // strerrordesc_np reads a static table: no locale, no allocation.
  const char* description = ::strerrordesc_np(error);
  append(description != nullptr ? description : "unknown error");
  append("\n");
  sys(__NR_write, 2, reinterpret_cast<long>(line), static_cast<long>(length));
}

// Tells the parent which step failed, then exits. The write is smaller than
// PIPE_BUF, so it is atomic.
[[noreturn]] inline void report_failure(int error_fd, ChildStep step, int error, int exit_code,
                                       std::uint32_t index = 0) {
  if (error_fd < 0) {
    describe_failure(step, error);
    exit_now(exit_code);
  }
  ChildFailure failure{static_cast<std::uint32_t>(step), error, index};
  while (sys(__NR_write, error_fd, reinterpret_cast<long>(&failure), sizeof failure) == -EINTR) {
  }
  exit_now(exit_code);
}

// Runs `steps` in order; on the first failure reports it and exits.
inline void run_steps(std::span<const Step> steps, const ChildPlan& plan, ChildState& state, int exit_code) {
  for (const auto& step : steps) {
    state.failed_index = 0;
    if (int error = step.run(plan, state); error != 0) {
      report_failure(state.error_fd, step.id, error, exit_code, state.failed_index);
    }
    record_time(state, static_cast<std::size_t>(step.id));
  }
}

}  // namespace berth::launcher::raw
