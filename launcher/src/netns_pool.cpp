#include "berth/launcher/netns_pool.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "berth/common/log.hpp"

namespace berth::launcher {

Result<UniqueFd> make_network_namespace(int home) {
  // unshare and setns change only the calling thread's namespaces.
  if (::unshare(CLONE_NEWNET) != 0) return fail_sys("unshare(CLONE_NEWNET)");
  UniqueFd fresh(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  int error = fresh ? 0 : errno;
  if (::setns(home, CLONE_NEWNET) != 0) {
    // A thread stuck in a namespace it made must not make more from there.
    log::error("Cannot return to the home network namespace: {}", std::strerror(errno));
    std::abort();
  }
  if (!fresh) return fail(Error::sys("open", error, "/proc/thread-self/ns/net"));
  return fresh;
}

NetworkNamespacePool::NetworkNamespacePool(std::size_t capacity, UniqueFd home)
    : capacity_(capacity), home_(std::move(home)) {}

Result<std::unique_ptr<NetworkNamespacePool>> NetworkNamespacePool::create(std::size_t capacity) {
  if (capacity == 0) return fail("network namespace pool: capacity must be at least 1");
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) return fail_sys("open", "/proc/thread-self/ns/net");
  std::unique_ptr<NetworkNamespacePool> pool(new NetworkNamespacePool(capacity, std::move(home)));
  BERTH_TRY(auto first, with_context(make_network_namespace(pool->home_.get()), "network namespace pool"));
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
    auto fresh = make_network_namespace(home_.get());
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
