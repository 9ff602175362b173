#pragma once
// Deletes network interfaces on a thread of its own. Deleting a veth pair
// waits in the kernel for an RCU grace period (~30 ms on the benchmark
// machine, bench/network_setup_bench.cpp), which must not stall the agent's
// event loop while containers come and go. The socket is opened by create()
// in the caller's network namespace and used only there.

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "berth/common/error.hpp"
#include "berth/isolators/network/netlink.hpp"

namespace berth::isolators::network {

class LinkReaper {
 public:
  static Result<std::unique_ptr<LinkReaper>> create();
  // Finishes what is queued, then stops.
  ~LinkReaper();
  LinkReaper(const LinkReaper&) = delete;
  LinkReaper& operator=(const LinkReaper&) = delete;

  // Queues `name` for deletion; one that is gone already is not an error.
  void remove(std::string name);
  // Waits until everything queued so far is deleted.
  void drain();

 private:
  explicit LinkReaper(RouteSocket socket);
  void run();

  RouteSocket socket_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::isolators::network
