#include "berth/agent/status_updates.hpp"

namespace berth::agent {

void StatusUpdateManager::enqueue(const std::string& framework_id, mesos::v1::TaskStatus status) {
  auto& queue = queues_[{framework_id, status.task_id().value()}];
  queue.framework_id = framework_id;
  queue.updates.push_back(std::move(status));
  if (queue.updates.size() == 1) send_head(queue, Clock::now());
}

bool StatusUpdateManager::acknowledge(const std::string& framework_id, const std::string& task_id,
                                      const std::string& uuid) {
  auto it = queues_.find({framework_id, task_id});
  if (it == queues_.end() || it->second.updates.empty() || it->second.updates.front().uuid() != uuid) {
    return false;
  }
  it->second.updates.pop_front();
  if (it->second.updates.empty()) {
    queues_.erase(it);
  } else {
    send_head(it->second, Clock::now());
  }
  return true;
}

void StatusUpdateManager::forget_framework(const std::string& framework_id) {
  std::erase_if(queues_, [&](const auto& entry) { return entry.first.first == framework_id; });
}

void StatusUpdateManager::resend_all() {
  auto now = Clock::now();
  for (auto& [key, queue] : queues_) send_head(queue, now);
}

void StatusUpdateManager::resend_due(Clock::time_point now) {
  for (auto& [key, queue] : queues_) {
    if (now - queue.sent_at >= retry_interval_) send_head(queue, now);
  }
}

std::size_t StatusUpdateManager::pending() const {
  std::size_t count = 0;
  for (const auto& [key, queue] : queues_) count += queue.updates.size();
  return count;
}

void StatusUpdateManager::send_head(Queue& queue, Clock::time_point now) {
  queue.sent_at = now;
  sender_(queue.framework_id, queue.updates.front());
}

}  // namespace berth::agent
