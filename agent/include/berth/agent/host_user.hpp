#pragma once
// The host account a command task runs as: Mesos runs a task as its
// CommandInfo.user, else as its framework's user, when the agent switches
// users (--switch_user, on by default).

#include <sys/types.h>

#include <string>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::agent {

struct HostUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, from the group database
};

// Looks `name` up in the host's user and group databases.
Result<HostUser> host_user(const std::string& name);

}  // namespace berth::agent
