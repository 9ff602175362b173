#pragma once
// What a task status means to the person at the terminal: its line of output,
// whether it is news, whether it is the end, and the exit code it stands for.

#include <optional>
#include <string>
#include <string_view>

#include "mesos/v1/mesos.pb.h"

namespace berth::cli {

namespace v1 = berth::mesos::v1;

// "RUNNING" for TASK_RUNNING.
std::string_view state_name(v1::TaskState state);

// Whether no further update will follow. Mesos's terminal states, plus TASK_UNKNOWN:
// the master answers it for a task it has no record of, and then never speaks of it again.
bool is_final(v1::TaskState state);

// The agent's "exit_code" label (decimal), when present and well-formed.
std::optional<int> exit_code_label(const v1::TaskStatus& status);

// The CLI's exit code for a final status: the exit_code label when present, else
// 0 for FINISHED, 137 (SIGKILL) for KILLED and 1 for anything else.
int exit_code_for(const v1::TaskStatus& status);

// "berth: task <id> FAILED (exit code 3): Command exited with status 3".
std::string status_line(std::string_view task_id, const v1::TaskStatus& status);

// Whether a task that ended with `final_status` can have left output in a sandbox:
// it got as far as starting, or an agent (not the master) reported its end.
bool may_have_output(bool started, const v1::TaskStatus& final_status);

// Decides which updates are news. The agent re-sends an update until it is
// acknowledged, and statuses can cross on the wire, so an update repeating the
// current state, or going back to an earlier launch phase, is not printed again.
class StateTracker {
 public:
  // Records `state` and returns whether it should be reported: a new state,
  // or the same one with news (STARTING again after an agent restart).
  bool observe(v1::TaskState state, std::string_view message = {});
  std::optional<v1::TaskState> current() const { return current_; }
  bool final() const { return current_ && is_final(*current_); }
  // Whether the task got as far as the agent starting it.
  bool started() const { return started_; }

 private:
  std::optional<v1::TaskState> current_;
  std::string message_;
  bool started_ = false;
};

}  // namespace berth::cli
