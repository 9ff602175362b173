#pragma once
// Where a timed launch records its moments: one CLOCK_MONOTONIC (ns) word per
// ChildStep, then the records of the parent and of berth-init. Freestanding,
// for berth-init.

#include <cstddef>
#include <cstdint>

namespace berth::launcher {

inline constexpr std::size_t kMaxRecordedSteps = 64;
// Records past the ChildStep values: the parent's, just before clone3, and
// init's, when berth-init starts, has reaped the task and has recorded its status.
inline constexpr std::size_t kCloneStartRecord = kMaxRecordedSteps - 1;
inline constexpr std::size_t kTaskReapedRecord = kMaxRecordedSteps - 2;
inline constexpr std::size_t kStatusWrittenRecord = kMaxRecordedSteps - 3;
inline constexpr std::size_t kInitRunningRecord = kMaxRecordedSteps - 4;  // berth-init's first moment
inline constexpr std::size_t kStepRecordsBytes = kMaxRecordedSteps * sizeof(std::uint64_t);

}  // namespace berth::launcher
