#pragma once
// How long to wait between attempts to reach the master, and how long a silent
// subscription stream is trusted.

#include <algorithm>
#include <chrono>

namespace berth::cli {

using std::chrono::milliseconds;

// Doubles from `first` up to `cap`: quick to notice a restarted master, without
// hammering one that is down for long.
class Backoff {
 public:
  explicit Backoff(milliseconds first = milliseconds(250), milliseconds cap = milliseconds(4000))
      : first_(first), next_(first), cap_(cap) {}
  milliseconds next() {
    auto now = next_;
    next_ = std::min(next_ * 2, cap_);
    return now;
  }
  void reset() { next_ = first_; }

 private:
  milliseconds first_;
  milliseconds next_;
  milliseconds cap_;
};

// A master sends HEARTBEAT every `heartbeat_s`; after three missed ones the stream
// is taken as dead (zero: the master promised none, so wait without limit).
inline milliseconds idle_timeout_for(double heartbeat_s) {
  if (!(heartbeat_s > 0)) return milliseconds(0);
  auto three_beats = milliseconds(static_cast<long long>(heartbeat_s * 3000));
  return std::max(three_beats, milliseconds(5000));
}

}  // namespace berth::cli
