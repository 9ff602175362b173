#include "berth/launcher/step_clock.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <utility>

namespace berth::launcher {

Result<StepClock> StepClock::create() {
  UniqueFd fd(::memfd_create("berth-step-clock", MFD_CLOEXEC));
  if (!fd) return fail_sys("memfd_create step clock");
  if (::ftruncate(fd.get(), sizeof(StepRecords)) != 0) return fail_sys("ftruncate step clock");
  void* memory = ::mmap(nullptr, sizeof(StepRecords), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (memory == MAP_FAILED) return fail_sys("mmap step clock");
  return StepClock(std::move(fd), new (memory) StepRecords{});
}

StepClock& StepClock::operator=(StepClock&& other) noexcept {
  if (this != &other) {
    if (records_ != nullptr) ::munmap(records_, sizeof(StepRecords));
    records_ = std::exchange(other.records_, nullptr);
    fd_ = std::move(other.fd_);
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
