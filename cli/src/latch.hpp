#pragma once
// A one-shot event for coroutines on one executor: set() wakes every waiter,
// and every later wait returns at once.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace berth::cli {

namespace asio = boost::asio;

class Latch {
 public:
  Latch() = default;
  Latch(const Latch&) = delete;
  Latch& operator=(const Latch&) = delete;

  void set() {
    set_ = true;
    for (auto* timer : waiters_) timer->cancel();
  }
  bool is_set() const { return set_; }

  // Returns whether the latch was set before `timeout` ran out.
  asio::awaitable<bool> wait_for(std::chrono::steady_clock::duration timeout) {
    co_return co_await wait_until(std::chrono::steady_clock::now() + timeout);
  }

  asio::awaitable<void> wait() { co_await wait_until(asio::steady_timer::time_point::max()); }

  asio::awaitable<bool> wait_until(asio::steady_timer::time_point deadline) {
    if (set_) co_return true;
    asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
    waiters_.push_back(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(waiters_, &timer);
    co_return set_;
  }

 private:
  bool set_ = false;
  std::vector<asio::steady_timer*> waiters_;
};

// Sleeps on a timer of its own.
inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace berth::cli
