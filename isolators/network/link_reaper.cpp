#include "berth/isolators/network/link_reaper.hpp"

#include "berth/common/log.hpp"

namespace berth::isolators::network {

Result<std::unique_ptr<LinkReaper>> LinkReaper::create() {
  BERTH_TRY(auto socket, RouteSocket::open());
  return std::unique_ptr<LinkReaper>(new LinkReaper(std::move(socket)));
}

LinkReaper::LinkReaper(RouteSocket socket) : socket_(std::move(socket)), thread_([this] { run(); }) {}

LinkReaper::~LinkReaper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void LinkReaper::remove(std::string name) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(name));
  }
  changed_.notify_all();
}

void LinkReaper::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void LinkReaper::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, with nothing left to do
    auto name = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    if (auto deleted = socket_.delete_link(name); !deleted && deleted.error().code() != ENODEV) {
      // Left for the next agent start: recover() removes host ends without a lease.
      log::warn("Network: {}", deleted.error().what());
    }
    lock.lock();
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace berth::isolators::network
