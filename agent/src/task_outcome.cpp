#include "berth/agent/task_outcome.hpp"

#include <string.h>

#include <limits>

#include <fmt/format.h>

namespace berth::agent {
namespace v1 = mesos::v1;
using isolators::Limitation;

namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;

// The memory the container was held to, in MB, for the limitation's resources.
std::optional<double> memory_limit_mb(const isolators::cgroups2::Limits& limits) {
  std::uint64_t bytes = limits.mem_limit.value_or(limits.mem_bytes);
  if (bytes == 0 || bytes == std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
  return static_cast<double>(bytes) / kBytesPerMb;
}

v1::TaskResourceLimitation memory_limitation(const isolators::cgroups2::Limits& limits) {
  v1::TaskResourceLimitation limitation;
  auto* resource = limitation.add_resources();
  resource->set_name("mem");
  resource->set_type(v1::Value::SCALAR);
  resource->mutable_scalar()->set_value(memory_limit_mb(limits).value_or(0));
  return limitation;
}

std::string describe(const launcher::ExitStatus& status) {
  return status.signaled ? "Command terminated with signal " + signal_name(status.code)
                         : fmt::format("Command exited with status {}", status.code);
}

}  // namespace

std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

StatusChange terminal_status(const TaskEnd& end) {
  if (!end.exit) {
    return {end.kill_requested ? v1::TASK_KILLED : v1::TASK_FAILED, "Unknown exit status: " + end.exit.error().what(),
            v1::TaskStatus::REASON_EXECUTOR_TERMINATED, std::nullopt, std::nullopt};
  }
  const auto& status = end.exit->status;
  int code = status.signaled ? 128 + status.code : status.code;
  auto message = describe(status);
  const auto& limitation = end.exit->limitation;
  // The OOM killer takes the whole container (memory.oom.group): that, not a
  // kill the framework asked for or the exit code, is why it ended.
  if (limitation && limitation->kind == Limitation::Kind::memory) {
    return {v1::TASK_FAILED, limitation->message + " (" + message + ")",
            v1::TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY, code, memory_limitation(end.limits)};
  }
  if (end.kill_requested) return {v1::TASK_KILLED, message, std::nullopt, code, std::nullopt};
  if (!status.signaled && status.code == 0) return {v1::TASK_FINISHED, message, std::nullopt, 0, std::nullopt};
  if (limitation && limitation->kind == Limitation::Kind::pids) {
    return {v1::TASK_FAILED, message + "; " + limitation->message, v1::TaskStatus::REASON_CONTAINER_LIMITATION, code,
            std::nullopt};
  }
  return {v1::TASK_FAILED, message, v1::TaskStatus::REASON_COMMAND_EXECUTOR_FAILED, code, std::nullopt};
}

}  // namespace berth::agent
