#include "framework_roles.hpp"

#include <fmt/format.h>

#include "berth/common/roles.hpp"

namespace berth::master {

namespace v1 = mesos::v1;

bool has_capability(const v1::FrameworkInfo& info, v1::FrameworkInfo::Capability::Type type) {
  for (const auto& capability : info.capabilities()) {
    if (capability.type() == type) return true;
  }
  return false;
}

// FrameworkInfo.role is deprecated in Mesos's protos, but it is how a
// framework without the MULTI_ROLE capability names its role.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Result<FrameworkRoles> framework_roles(const v1::FrameworkInfo& info) {
  FrameworkRoles out;
  out.multi_role = has_capability(info, v1::FrameworkInfo::Capability::MULTI_ROLE);
  out.partition_aware = has_capability(info, v1::FrameworkInfo::Capability::PARTITION_AWARE);
  out.reservation_refinement = has_capability(info, v1::FrameworkInfo::Capability::RESERVATION_REFINEMENT);
  if (out.multi_role) {
    if (info.has_role()) return fail("'framework_info.role' must not be set for a MULTI_ROLE framework; use 'roles'");
    for (const auto& role : info.roles()) {
      BERTH_TRY_VOID(with_context(roles::validate(role), "'framework_info.roles'"));
      if (!out.roles.insert(role).second) return fail(fmt::format("'framework_info.roles' lists '{}' twice", role));
    }
    return out;
  }
  if (info.roles_size() > 0) {
    return fail("'framework_info.roles' needs the MULTI_ROLE capability; without it, set 'role'");
  }
  BERTH_TRY_VOID(with_context(roles::validate(info.role()), "'framework_info.role'"));
  out.roles.insert(info.role());
  return out;
}

#pragma GCC diagnostic pop

}  // namespace berth::master
