#pragma once
// Per-step timestamps of a launch, for benchmarks and for diagnosing launch
// latency: the launch child records CLOCK_MONOTONIC (ns) at the end of each
// setup step into memory it shares with the caller (MAP_SHARED, so the
// records survive the clone). A step that did not run stays 0.

#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "berth/common/error.hpp"

namespace berth::launcher {

inline constexpr std::size_t kMaxRecordedSteps = 64;
// Records past the ChildStep values: the parent's, just before clone3, and
// init's, when it has reaped the task and when it has recorded its status.
inline constexpr std::size_t kCloneStartRecord = kMaxRecordedSteps - 1;
inline constexpr std::size_t kTaskReapedRecord = kMaxRecordedSteps - 2;
inline constexpr std::size_t kStatusWrittenRecord = kMaxRecordedSteps - 3;

struct StepRecords {
  std::atomic<std::uint64_t> end_ns[kMaxRecordedSteps];
};

// CLOCK_MONOTONIC in ns; async-signal-safe (the vDSO), so the child may call it.
inline std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Owns a shared mapping of StepRecords. Move-only.
class StepClock {
 public:
  static Result<StepClock> create();
  StepClock(StepClock&& other) noexcept : records_(std::exchange(other.records_, nullptr)) {}
  StepClock& operator=(StepClock&& other) noexcept;
  ~StepClock();

  StepRecords* records() const { return records_; }
  // Sets every record back to 0, for the next launch.
  void clear();
  // When the step `index` (a ChildStep) ended; 0 if it did not run.
  std::uint64_t end_ns(std::size_t index) const { return records_->end_ns[index].load(std::memory_order_relaxed); }

 private:
  explicit StepClock(StepRecords* records) : records_(records) {}
  StepRecords* records_ = nullptr;
};

}  // namespace berth::launcher
