#include "backoff.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "latch.hpp"

namespace berth::cli {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesUpToTheCapAndStartsOverOnReset) {
  Backoff backoff(milliseconds(100), milliseconds(500));
  EXPECT_EQ(backoff.next(), milliseconds(100));
  EXPECT_EQ(backoff.next(), milliseconds(200));
  EXPECT_EQ(backoff.next(), milliseconds(400));
  EXPECT_EQ(backoff.next(), milliseconds(500));
  EXPECT_EQ(backoff.next(), milliseconds(500));
  backoff.reset();
  EXPECT_EQ(backoff.next(), milliseconds(100));
}

TEST(Backoff, StreamIdleTimeoutIsThreeHeartbeats) {
  EXPECT_EQ(idle_timeout_for(15), milliseconds(45000));
  EXPECT_EQ(idle_timeout_for(0.5), milliseconds(5000));
  EXPECT_EQ(idle_timeout_for(0), milliseconds(0));
}

TEST(Latch, WakesWaitersWhenSetAndTimesOutOtherwise) {
  boost::asio::io_context io;
  Latch latch;
  std::vector<std::string> events;
  auto waiter = [&](std::string name, milliseconds timeout) -> asio::awaitable<void> {
    bool set = co_await latch.wait_for(timeout);
    events.push_back(name + (set ? ":set" : ":timeout"));
  };
  auto setter = [&]() -> asio::awaitable<void> {
    co_await sleep_for(milliseconds(50));
    events.push_back("setting");
    latch.set();
  };
  auto start = std::chrono::steady_clock::now();
  asio::co_spawn(io, waiter("short", milliseconds(10)), asio::detached);
  asio::co_spawn(io, waiter("long", milliseconds(10000)), asio::detached);
  asio::co_spawn(io, setter(), asio::detached);
  io.run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(events, (std::vector<std::string>{"short:timeout", "setting", "long:set"}));

  asio::co_spawn(io, waiter("late", milliseconds(10000)), asio::detached);
  io.restart();
  io.run();
  EXPECT_EQ(events.back(), "late:set");
}

}  // namespace
}  // namespace berth::cli
