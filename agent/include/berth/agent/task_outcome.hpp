#pragma once
// The terminal status of a task whose container ended, as Mesos reports it:
// FINISHED on exit 0, KILLED after a kill was asked for, FAILED otherwise,
// and FAILED with REASON_CONTAINER_LIMITATION_MEMORY (and the limitation's
// resources) when the kernel ended it at its memory limit, whatever else
// happened.

#include <optional>
#include <string>

#include "berth/agent/containerizer.hpp"
#include "berth/common/error.hpp"
#include "berth/isolators/cgroups2/limits.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

// One status change of a task, before the agent stamps and sends it.
struct StatusChange {
  mesos::v1::TaskState state = mesos::v1::TASK_STAGING;
  std::string message;
  std::optional<mesos::v1::TaskStatus::Reason> reason;
  std::optional<int> exit_code;  // as a shell reports it: 128 + N for signal N
  std::optional<mesos::v1::TaskResourceLimitation> limitation;
};

struct TaskEnd {
  Result<ContainerExit> exit;
  bool kill_requested = false;
  isolators::cgroups2::Limits limits;  // what the container had
};

StatusChange terminal_status(const TaskEnd& end);

// "SIGKILL" for 9, "signal 99" for an unnamed one.
std::string signal_name(int signal);

}  // namespace berth::agent
