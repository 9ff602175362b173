#pragma once
// What a task asks of the security isolator: its capabilities (Mesos's
// LinuxInfo.effective_capabilities and bounding_capabilities, the deprecated
// capability_info counting as effective) and its seccomp profile (the label
// berth.seccomp_profile: a profile name in the agent's --seccomp_config_dir,
// or "unconfined").

#include "berth/common/error.hpp"
#include "berth/isolators/isolator.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

Result<isolators::TaskSecurity> task_security(const berth::mesos::v1::TaskInfo& task);

}  // namespace berth::agent
