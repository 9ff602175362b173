#pragma once
// Per-step timestamps of a launch, for benchmarks and for diagnosing launch
// latency: the launch child records CLOCK_MONOTONIC (ns) at the end of each
// setup step, and the container's init when it reaps the task and records its
// status, into a shared memfd mapping (so the records survive both the clone
// and init's exec). A step that did not run stays 0.

#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/launcher/step_clock_layout.hpp"

namespace berth::launcher {

struct StepRecords {
  std::atomic<std::uint64_t> end_ns[kMaxRecordedSteps];
};
static_assert(sizeof(StepRecords) == kStepRecordsBytes);

// CLOCK_MONOTONIC in ns; async-signal-safe (the vDSO), so the child may call it.
inline std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Owns the memfd and its mapping. Move-only.
class StepClock {
 public:
  static Result<StepClock> create();
  StepClock(StepClock&& other) noexcept
      : fd_(std::move(other.fd_)), records_(std::exchange(other.records_, nullptr)) {}
  StepClock& operator=(StepClock&& other) noexcept;
  ~StepClock();

  StepRecords* records() const { return records_; }
  // The memfd, for LaunchRequest::step_clock_fd.
  int fd() const { return fd_.get(); }
  // Sets every record back to 0, for the next launch.
  void clear();
  // When the step `index` (a ChildStep, or a k*Record) ended; 0 if it did not run.
  std::uint64_t end_ns(std::size_t index) const { return records_->end_ns[index].load(std::memory_order_relaxed); }

 private:
  StepClock(UniqueFd fd, StepRecords* records) : fd_(std::move(fd)), records_(records) {}
  UniqueFd fd_;
  StepRecords* records_ = nullptr;
};

}  // namespace berth::launcher
