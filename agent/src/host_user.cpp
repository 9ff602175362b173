#include "berth/agent/host_user.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>

namespace berth::agent {

Result<HostUser> host_user(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return fail(Error("looking up user", rc, name));
  if (found == nullptr) return fail("user '" + name + "' does not exist on this agent");
  HostUser user{name, entry.pw_uid, entry.pw_gid, {}};
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(name.c_str(), entry.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(name.c_str(), entry.pw_gid, groups.data(), &count) < 0) {
      return fail("too many groups for user '" + name + "'");
    }
  }
  groups.resize(static_cast<std::size_t>(count));
  for (gid_t gid : groups) {
    if (gid != entry.pw_gid) user.groups.push_back(gid);
  }
  return user;
}

}  // namespace berth::agent
