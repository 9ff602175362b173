#pragma once
// Network namespaces made ahead of launches. Creating a network namespace is
// one of the costliest parts of starting a container (on the benchmark
// machine, ~0.5 ms of clone3 and more of its teardown), and nothing about a
// fresh one depends on the container it goes to. A background thread keeps
// `capacity` fresh, never-entered namespaces ready; take() hands each out
// once, and a container joins it through linux.namespaces[].path.
//
// Clean by construction: a namespace is created by the pool's thread, which
// leaves it at once (back to its own), so nothing ever runs in it before the
// container; it holds only a loopback device, down, as any new one does.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"

namespace berth::launcher {

class NetworkNamespacePool {
 public:
  // Makes the first namespace at once, so that a host that refuses (no
  // CAP_SYS_ADMIN, a sandbox) says so here, then fills up in the background.
  static Result<std::unique_ptr<NetworkNamespacePool>> create(std::size_t capacity);
  // Stops the thread; namespaces never taken are released.
  ~NetworkNamespacePool();
  NetworkNamespacePool(const NetworkNamespacePool&) = delete;
  NetworkNamespacePool& operator=(const NetworkNamespacePool&) = delete;

  // A fresh namespace, now the caller's; an empty fd when none is ready (the
  // launch then creates one itself).
  UniqueFd take();
  // The path a spec joins `fd` by: /proc/self/fd/<fd>.
  static std::string path_of(const UniqueFd& fd);
  std::size_t ready() const;
  // Namespaces handed out, and takes that found none ready.
  std::size_t taken() const;
  std::size_t misses() const;

 private:
  explicit NetworkNamespacePool(std::size_t capacity, UniqueFd home);
  void refill();

  const std::size_t capacity_;
  UniqueFd home_;  // the pool thread's own network namespace, to go back to
  mutable std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<UniqueFd> ready_;
  std::size_t taken_ = 0;
  std::size_t misses_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::launcher
