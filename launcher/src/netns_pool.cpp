#include "berth/launcher/netns_pool.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "berth/common/log.hpp"
#include "berth/common/netns.hpp"

namespace berth::launcher {

NetworkNamespacePool::NetworkNamespacePool(std::size_t capacity, UniqueFd home)
    : capacity_(capacity), home_(std::move(home)) {}

Result<std::unique_ptr<NetworkNamespacePool>> NetworkNamespacePool::create(std::size_t capacity) {
  if (capacity == 0) return fail("network namespace pool: capacity must be at least 1");
  BERTH_TRY(auto home, netns::current());
  std::unique_ptr<NetworkNamespacePool> pool(new NetworkNamespacePool(capacity, std::move(home)));
  BERTH_TRY(auto first, with_context(netns::make(pool->home_.get()), "network namespace pool"));
  pool->ready_.push_back(std::move(first));
  pool->thread_ = std::thread([raw = pool.get()] { raw->refill(); });
  return pool;
}

NetworkNamespacePool::~NetworkNamespacePool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NetworkNamespacePool::refill() {
  std::unique_lock lock(mutex_);
  while (true) {
    wanted_.wait(lock, [this] { return stopping_ || ready_.size() < capacity_; });
    if (stopping_) return;
    lock.unlock();
    auto fresh = netns::make(home_.get());
    lock.lock();
    if (!fresh) {
      log::warn("Network namespace pool: {}; launches create their own meanwhile", fresh.error().what());
      // Not in a tight loop: try again in a second.
      wanted_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      continue;
    }
    ready_.push_back(std::move(*fresh));
  }
}

UniqueFd NetworkNamespacePool::take() {
  UniqueFd fd;
  {
    std::lock_guard lock(mutex_);
    if (ready_.empty()) {
      ++misses_;
      return fd;
    }
    fd = std::move(ready_.front());
    ready_.pop_front();
    ++taken_;
  }
  wanted_.notify_one();
  return fd;
}

std::string NetworkNamespacePool::path_of(const UniqueFd& fd) { return "/proc/self/fd/" + std::to_string(fd.get()); }

std::size_t NetworkNamespacePool::ready() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

std::size_t NetworkNamespacePool::taken() const {
  std::lock_guard lock(mutex_);
  return taken_;
}

std::size_t NetworkNamespacePool::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace berth::launcher
