#pragma once
// Time as the Mesos APIs carry it: seconds since the epoch as a double, and
// durations given in (fractional) seconds by flags.

#include <chrono>
#include <cstdint>

namespace berth {

inline double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

inline std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

}  // namespace berth
