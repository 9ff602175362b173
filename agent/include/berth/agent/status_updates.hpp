#pragma once
// Reliable task status updates: each task's updates are delivered in order, one
// at a time, and the head is re-sent until the framework's acknowledgement (its
// uuid) comes back through the master.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

class StatusUpdateManager {
 public:
  using Clock = std::chrono::steady_clock;
  using Sender = std::function<void(const std::string& framework_id, const mesos::v1::TaskStatus& status)>;

  StatusUpdateManager(Sender sender, Clock::duration retry_interval)
      : sender_(std::move(sender)), retry_interval_(retry_interval) {}

  // Queues an update (which must carry a uuid); sends it now if nothing is in flight for its task.
  void enqueue(const std::string& framework_id, mesos::v1::TaskStatus status);
  // Drops the in-flight update the uuid names and sends the task's next one.
  // Returns false for an unknown or stale acknowledgement.
  bool acknowledge(const std::string& framework_id, const std::string& task_id, const std::string& uuid);
  // Forgets every update of a framework (it was removed).
  void forget_framework(const std::string& framework_id);
  // Sends every in-flight update again (after (re-)registering with a master).
  void resend_all();
  // Sends again the in-flight updates that waited longer than the retry interval.
  void resend_due(Clock::time_point now);
  std::size_t pending() const;
  bool has_pending(const std::string& framework_id, const std::string& task_id) const {
    return queues_.contains({framework_id, task_id});
  }

 private:
  struct Queue {
    std::string framework_id;
    std::deque<mesos::v1::TaskStatus> updates;
    Clock::time_point sent_at;
  };
  void send_head(Queue& queue, Clock::time_point now);

  Sender sender_;
  Clock::duration retry_interval_;
  std::map<std::pair<std::string, std::string>, Queue> queues_;  // (framework id, task id)
};

}  // namespace berth::agent
