#include "berth/common/service.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace berth::service {

void ready(std::string_view status) { sd_notifyf(0, "READY=1\nSTATUS=%s", std::string(status).c_str()); }

void stopping() { sd_notify(0, "STOPPING=1"); }

void status(std::string_view text) { sd_notifyf(0, "STATUS=%s", std::string(text).c_str()); }

std::unique_ptr<Watchdog> Watchdog::start(boost::asio::any_io_executor executor) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return nullptr;
  auto watchdog = std::make_unique<Watchdog>(executor, std::chrono::microseconds(usec));
  sd_notify(0, "WATCHDOG=1");
  watchdog->arm();
  return watchdog;
}

Watchdog::Watchdog(boost::asio::any_io_executor executor, std::chrono::microseconds interval)
    : timer_(executor), interval_(interval) {}

void Watchdog::arm() {
  timer_.expires_after(interval_ / 2);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    sd_notify(0, "WATCHDOG=1");
    arm();
  });
}

}  // namespace berth::service
