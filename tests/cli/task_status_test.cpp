#include "task_status.hpp"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

v1::TaskStatus status_of(v1::TaskState state, std::string message = {}) {
  v1::TaskStatus status;
  status.mutable_task_id()->set_value("hello-3f2a");
  status.set_state(state);
  if (!message.empty()) status.set_message(std::move(message));
  return status;
}

void add_label(v1::TaskStatus& status, const std::string& key, const std::string& value) {
  auto* label = status.mutable_labels()->add_labels();
  label->set_key(key);
  label->set_value(value);
}

TEST(TaskStatus, StateNamesDropTheTaskPrefix) {
  EXPECT_EQ(state_name(v1::TASK_RUNNING), "RUNNING");
  EXPECT_EQ(state_name(v1::TASK_GONE_BY_OPERATOR), "GONE_BY_OPERATOR");
}

TEST(TaskStatus, FinalStatesAreMesosTerminalStatesPlusUnknown) {
  for (auto state : {v1::TASK_FINISHED, v1::TASK_FAILED, v1::TASK_KILLED, v1::TASK_ERROR, v1::TASK_LOST,
                     v1::TASK_DROPPED, v1::TASK_GONE, v1::TASK_GONE_BY_OPERATOR, v1::TASK_UNKNOWN}) {
    EXPECT_TRUE(is_final(state)) << state_name(state);
  }
  for (auto state : {v1::TASK_STAGING, v1::TASK_STARTING, v1::TASK_RUNNING, v1::TASK_KILLING,
                     v1::TASK_UNREACHABLE}) {
    EXPECT_FALSE(is_final(state)) << state_name(state);
  }
}

TEST(TaskStatus, ExitCodeLabelMustBeADecimalByte) {
  auto status = status_of(v1::TASK_FAILED);
  EXPECT_EQ(exit_code_label(status), std::nullopt);
  add_label(status, "other", "9");
  add_label(status, "exit_code", "127");
  EXPECT_EQ(exit_code_label(status), 127);

  for (const char* bad : {"", "3x", "-1", "256", " 3"}) {
    auto malformed = status_of(v1::TASK_FAILED);
    add_label(malformed, "exit_code", bad);
    EXPECT_EQ(exit_code_label(malformed), std::nullopt) << "'" << bad << "'";
  }
}

TEST(TaskStatus, ExitCodePrefersTheLabelThenTheState) {
  EXPECT_EQ(exit_code_for(status_of(v1::TASK_FINISHED)), 0);
  EXPECT_EQ(exit_code_for(status_of(v1::TASK_KILLED)), 137);
  EXPECT_EQ(exit_code_for(status_of(v1::TASK_LOST)), 1);
  EXPECT_EQ(exit_code_for(status_of(v1::TASK_ERROR)), 1);
  EXPECT_EQ(exit_code_for(status_of(v1::TASK_DROPPED)), 1);

  auto failed = status_of(v1::TASK_FAILED);
  add_label(failed, "exit_code", "3");
  EXPECT_EQ(exit_code_for(failed), 3);
  auto terminated = status_of(v1::TASK_KILLED);
  add_label(terminated, "exit_code", "143");
  EXPECT_EQ(exit_code_for(terminated), 143);
}

TEST(TaskStatus, LinesNameTheTaskStateExitCodeAndMessage) {
  EXPECT_EQ(status_line("hello-3f2a", status_of(v1::TASK_STARTING)), "berth: task hello-3f2a STARTING");

  auto failed = status_of(v1::TASK_FAILED, "Command exited with status 3");
  add_label(failed, "exit_code", "3");
  EXPECT_EQ(status_line("hello-3f2a", failed),
            "berth: task hello-3f2a FAILED (exit code 3): Command exited with status 3");

  auto finished = status_of(v1::TASK_FINISHED);
  add_label(finished, "exit_code", "0");
  EXPECT_EQ(status_line("hello-3f2a", finished), "berth: task hello-3f2a FINISHED");

  auto lost = status_of(v1::TASK_LOST, "agent removed");
  lost.set_reason(v1::TaskStatus::REASON_AGENT_REMOVED);
  EXPECT_EQ(status_line("t", lost), "berth: task t LOST (REASON_AGENT_REMOVED): agent removed");

  auto oom = status_of(v1::TASK_FAILED, "Memory limit exceeded");
  oom.set_reason(v1::TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY);
  add_label(oom, "exit_code", "137");
  EXPECT_EQ(status_line("t", oom),
            "berth: task t FAILED (exit code 137, REASON_CONTAINER_LIMITATION_MEMORY): Memory limit exceeded");
}

TEST(TaskStatus, TrackerReportsEachStateOnce) {
  StateTracker tracker;
  EXPECT_TRUE(tracker.observe(v1::TASK_STAGING));
  EXPECT_FALSE(tracker.observe(v1::TASK_STAGING));
  EXPECT_FALSE(tracker.started());
  EXPECT_TRUE(tracker.observe(v1::TASK_STARTING));
  EXPECT_TRUE(tracker.started());
  EXPECT_TRUE(tracker.observe(v1::TASK_RUNNING));
  EXPECT_FALSE(tracker.observe(v1::TASK_RUNNING));
  EXPECT_FALSE(tracker.observe(v1::TASK_STARTING)) << "a late re-send of an earlier phase";
  EXPECT_EQ(tracker.current(), v1::TASK_RUNNING);
  EXPECT_FALSE(tracker.final());
  EXPECT_TRUE(tracker.observe(v1::TASK_FINISHED));
  EXPECT_TRUE(tracker.final());
  EXPECT_FALSE(tracker.observe(v1::TASK_FINISHED));
  EXPECT_FALSE(tracker.observe(v1::TASK_FAILED)) << "nothing follows a final state";
  EXPECT_EQ(tracker.current(), v1::TASK_FINISHED);
}

TEST(TaskStatus, TrackerReportsTheSameStateAgainOnlyWithNews) {
  StateTracker tracker;
  EXPECT_TRUE(tracker.observe(v1::TASK_STARTING, "Pulling image a"));
  EXPECT_FALSE(tracker.observe(v1::TASK_STARTING, "Pulling image a")) << "a re-send";
  EXPECT_FALSE(tracker.observe(v1::TASK_STARTING));
  EXPECT_TRUE(tracker.observe(v1::TASK_STARTING, "Pulling image a again after an agent restart"));
  EXPECT_TRUE(tracker.observe(v1::TASK_RUNNING));
  EXPECT_FALSE(tracker.observe(v1::TASK_STARTING, "something else")) << "an earlier phase, whatever it says";
}

TEST(TaskStatus, TrackerLetsAnUnreachableTaskComeBack) {
  StateTracker tracker;
  EXPECT_TRUE(tracker.observe(v1::TASK_RUNNING));
  EXPECT_TRUE(tracker.observe(v1::TASK_UNREACHABLE));
  EXPECT_TRUE(tracker.observe(v1::TASK_RUNNING));
  EXPECT_TRUE(tracker.observe(v1::TASK_KILLING));
  EXPECT_FALSE(tracker.observe(v1::TASK_RUNNING));
  EXPECT_TRUE(tracker.observe(v1::TASK_KILLED));
}

TEST(TaskStatus, OutputIsReadUnlessTheMasterEndedATaskThatNeverStarted) {
  auto dropped = status_of(v1::TASK_DROPPED);
  dropped.set_source(v1::TaskStatus::SOURCE_MASTER);
  EXPECT_FALSE(may_have_output(false, dropped));
  EXPECT_TRUE(may_have_output(true, dropped));

  auto failed = status_of(v1::TASK_FAILED);
  failed.set_source(v1::TaskStatus::SOURCE_AGENT);
  EXPECT_TRUE(may_have_output(false, failed));
  auto labelled = status_of(v1::TASK_FAILED);
  labelled.set_source(v1::TaskStatus::SOURCE_MASTER);
  add_label(labelled, "exit_code", "127");
  EXPECT_TRUE(may_have_output(false, labelled));
}

}  // namespace
}  // namespace berth::cli
