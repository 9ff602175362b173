#include "berth/agent/status_updates.hpp"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

namespace v1 = berth::mesos::v1;
using namespace std::chrono_literals;

v1::TaskStatus status(const std::string& task, v1::TaskState state, const std::string& uuid) {
  v1::TaskStatus s;
  s.mutable_task_id()->set_value(task);
  s.set_state(state);
  s.set_uuid(uuid);
  return s;
}

struct Sent {
  std::string framework;
  std::string task;
  std::string uuid;
};

class StatusUpdateManagerTest : public ::testing::Test {
 protected:
  std::vector<Sent> sent;
  StatusUpdateManager manager{[this](const std::string& framework, const v1::TaskStatus& s) {
                                sent.push_back({framework, s.task_id().value(), s.uuid()});
                              },
                              10s};
};

TEST_F(StatusUpdateManagerTest, SendsOneUpdatePerTaskAtATimeInOrder) {
  manager.enqueue("f", status("t", v1::TASK_STARTING, "u1"));
  manager.enqueue("f", status("t", v1::TASK_RUNNING, "u2"));
  manager.enqueue("f", status("t", v1::TASK_FINISHED, "u3"));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].uuid, "u1");
  EXPECT_TRUE(manager.acknowledge("f", "t", "u1"));
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].uuid, "u2");
  EXPECT_TRUE(manager.acknowledge("f", "t", "u2"));
  EXPECT_TRUE(manager.acknowledge("f", "t", "u3"));
  EXPECT_EQ(manager.pending(), 0u);
  EXPECT_FALSE(manager.has_pending("f", "t"));
}

TEST_F(StatusUpdateManagerTest, TasksAreIndependent) {
  manager.enqueue("f", status("a", v1::TASK_RUNNING, "a1"));
  manager.enqueue("f", status("b", v1::TASK_RUNNING, "b1"));
  EXPECT_EQ(sent.size(), 2u);
}

TEST_F(StatusUpdateManagerTest, StaleOrUnknownAcknowledgementsAreIgnored) {
  manager.enqueue("f", status("t", v1::TASK_RUNNING, "u1"));
  manager.enqueue("f", status("t", v1::TASK_FINISHED, "u2"));
  EXPECT_FALSE(manager.acknowledge("f", "t", "u2"));  // not the head
  EXPECT_FALSE(manager.acknowledge("f", "other", "u1"));
  EXPECT_FALSE(manager.acknowledge("g", "t", "u1"));
  EXPECT_EQ(manager.pending(), 2u);
  EXPECT_EQ(sent.size(), 1u);
}

TEST_F(StatusUpdateManagerTest, ResendsOnlyWhatIsDue) {
  manager.enqueue("f", status("t", v1::TASK_RUNNING, "u1"));
  auto now = StatusUpdateManager::Clock::now();
  manager.resend_due(now + 5s);
  EXPECT_EQ(sent.size(), 1u);
  manager.resend_due(now + 11s);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].uuid, "u1");
  manager.resend_all();
  EXPECT_EQ(sent.size(), 3u);
}

TEST_F(StatusUpdateManagerTest, ForgettingAFrameworkDropsItsUpdates) {
  manager.enqueue("f", status("t", v1::TASK_RUNNING, "u1"));
  manager.enqueue("g", status("t", v1::TASK_RUNNING, "u2"));
  manager.forget_framework("f");
  EXPECT_EQ(manager.pending(), 1u);
  manager.resend_all();
  EXPECT_EQ(sent.back().framework, "g");
}

}  // namespace
}  // namespace berth::agent
