#pragma once
// Which Mesos task features Berth provides: the reason a task or a task
// group's executor is refused, or an empty string.

#include <string>

#include "mesos/v1/mesos.pb.h"

namespace berth::master {

namespace v1 = berth::mesos::v1;

// The first feature the task asks for that Berth does not provide.
std::string unsupported_task_feature(const v1::TaskInfo& task);

// Why a LAUNCH_GROUP's executor cannot run: it must be Mesos's DEFAULT
// executor, which Berth provides.
std::string invalid_group_executor(const v1::ExecutorInfo& executor, const std::string& framework_id);

}  // namespace berth::master
