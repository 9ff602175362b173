#pragma once
// What a FrameworkInfo asks for, as Mesos reads it: its roles (`roles` for a
// MULTI_ROLE framework, else the single deprecated `role`, "*" by default)
// and the capabilities that change what the master sends it.

#include <set>
#include <string>

#include "berth/common/error.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::master {

struct FrameworkRoles {
  std::set<std::string> roles;
  bool multi_role = false;
  bool partition_aware = false;          // TASK_UNREACHABLE instead of TASK_LOST
  bool reservation_refinement = false;   // reservations as `reservations`, not `role`
};

bool has_capability(const mesos::v1::FrameworkInfo& info, mesos::v1::FrameworkInfo::Capability::Type type);

// Errors say which field is wrong, as Mesos's validation does.
Result<FrameworkRoles> framework_roles(const mesos::v1::FrameworkInfo& info);

}  // namespace berth::master
