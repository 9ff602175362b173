#include "berth/launcher/step_clock.hpp"

#include <sys/mman.h>

#include <utility>

namespace berth::launcher {

Result<StepClock> StepClock::create() {
  void* memory = ::mmap(nullptr, sizeof(StepRecords), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return fail_sys("mmap step records");
  return StepClock(new (memory) StepRecords{});
}

StepClock& StepClock::operator=(StepClock&& other) noexcept {
  if (this != &other) {
    if (records_ != nullptr) ::munmap(records_, sizeof(StepRecords));
    records_ = std::exchange(other.records_, nullptr);
  }
  return *this;
}

StepClock::~StepClock() {
  if (records_ != nullptr) ::munmap(records_, sizeof(StepRecords));
}

void StepClock::clear() {
  for (auto& record : records_->end_ns) record.store(0, std::memory_order_relaxed);
}

}  // namespace berth::launcher
