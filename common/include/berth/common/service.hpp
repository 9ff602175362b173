#pragma once
// The daemons' side of systemd's Type=notify protocol (sd_notify(3)): READY
// once serving, STOPPING on the way out, STATUS lines, and WATCHDOG pings
// from the event loop itself, so that a loop that stops turning is
// restarted. Without $NOTIFY_SOCKET (not started by systemd) all of it does
// nothing.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string_view>

namespace berth::service {

void ready(std::string_view status);
void stopping();
void status(std::string_view text);

class Watchdog {
 public:
  // Pings at half the interval systemd asked for (WatchdogSec); null when it asked for none.
  static std::unique_ptr<Watchdog> start(boost::asio::any_io_executor executor);
  std::chrono::microseconds interval() const { return interval_; }

  Watchdog(boost::asio::any_io_executor executor, std::chrono::microseconds interval);
  void stop() { timer_.cancel(); }

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_;
};

}  // namespace berth::service
