#include "task_status.hpp"

#include <fmt/format.h>

#include <charconv>

#include "berth/common/task_state.hpp"

namespace berth::cli {
namespace {

constexpr int kExitFinished = 0;
constexpr int kExitKilled = 128 + 9;
constexpr int kExitOther = 1;

// Launch phases in the order a task moves through them; -1 for the states
// that can come at any point (UNREACHABLE, and the final ones).
int launch_phase(v1::TaskState state) {
  switch (state) {
    case v1::TASK_STAGING: return 0;
    case v1::TASK_STARTING: return 1;
    case v1::TASK_RUNNING: return 2;
    case v1::TASK_KILLING: return 3;
    default: return -1;
  }
}

}  // namespace

std::string_view state_name(v1::TaskState state) {
  std::string_view name = v1::TaskState_Name(state);
  if (name.starts_with("TASK_")) name.remove_prefix(5);
  return name.empty() ? std::string_view("UNKNOWN_STATE") : name;
}

bool is_final(v1::TaskState state) { return berth::is_terminal(state) || state == v1::TASK_UNKNOWN; }

std::optional<int> exit_code_label(const v1::TaskStatus& status) {
  for (const auto& label : status.labels().labels()) {
    if (label.key() != "exit_code") continue;
    const std::string& text = label.value();
    int code = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
    if (ec != std::errc() || end != text.data() + text.size() || code < 0 || code > 255) {
      return std::nullopt;
    }
    return code;
  }
  return std::nullopt;
}

int exit_code_for(const v1::TaskStatus& status) {
  if (auto code = exit_code_label(status)) return *code;
  switch (status.state()) {
    case v1::TASK_FINISHED: return kExitFinished;
    case v1::TASK_KILLED: return kExitKilled;
    default: return kExitOther;
  }
}

std::string status_line(std::string_view task_id, const v1::TaskStatus& status) {
  std::string line = fmt::format("berth: task {} {}", task_id, state_name(status.state()));
  auto code = exit_code_label(status);
  if (is_final(status.state()) && status.state() != v1::TASK_FINISHED) {
    // A limit the task hit matters more than how it then exited: say both.
    bool limitation = status.has_reason() && (status.reason() == v1::TaskStatus::REASON_CONTAINER_LIMITATION ||
                                              status.reason() == v1::TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY ||
                                              status.reason() == v1::TaskStatus::REASON_CONTAINER_LIMITATION_DISK);
    if (code && limitation) {
      line += fmt::format(" (exit code {}, {})", *code, v1::TaskStatus::Reason_Name(status.reason()));
    } else if (code) {
      line += fmt::format(" (exit code {})", *code);
    } else if (status.has_reason()) {
      line += fmt::format(" ({})", v1::TaskStatus::Reason_Name(status.reason()));
    }
  }
  if (!status.message().empty()) line += ": " + status.message();
  return line;
}

bool may_have_output(bool started, const v1::TaskStatus& final_status) {
  if (started || exit_code_label(final_status)) return true;
  return !final_status.has_source() || final_status.source() != v1::TaskStatus::SOURCE_MASTER;
}

bool StateTracker::observe(v1::TaskState state, std::string_view message) {
  if (final()) return false;
  if (current_ == state) {
    if (message.empty() || message == message_) return false;
    message_ = message;
    return true;
  }
  int phase = launch_phase(state);
  if (current_ && phase >= 0 && phase < launch_phase(*current_)) return false;
  current_ = state;
  message_ = message;
  if (state == v1::TASK_STARTING || state == v1::TASK_RUNNING) started_ = true;
  return true;
}

}  // namespace berth::cli
