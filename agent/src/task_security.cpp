#include "berth/agent/task_security.hpp"

#include <fmt/format.h>

namespace berth::agent {
namespace {

namespace v1 = berth::mesos::v1;

Result<std::set<std::string>> capability_names(const v1::CapabilityInfo& info, std::string_view field) {
  std::set<std::string> out;
  for (int value : info.capabilities()) {
    auto capability = static_cast<v1::CapabilityInfo::Capability>(value);
    if (capability == v1::CapabilityInfo::UNKNOWN || !v1::CapabilityInfo::Capability_IsValid(value)) {
      return fail(fmt::format("{}: unknown capability {}", field, value));
    }
    out.insert("CAP_" + v1::CapabilityInfo::Capability_Name(capability));
  }
  return out;
}

}  // namespace

Result<isolators::TaskSecurity> task_security(const v1::TaskInfo& task) {
  isolators::TaskSecurity security;
  for (const auto& label : task.labels().labels()) {
    if (label.key() == "berth.seccomp_profile") security.seccomp_profile = label.value();
    if (label.key() == "berth.user_namespace") {
      if (label.value() != "true" && label.value() != "false") {
        return fail("labels[\"berth.user_namespace\"]: must be true or false, not '" + label.value() + "'");
      }
      security.user_namespace = label.value() == "true";
    }
  }
  const auto& linux_info = task.container().linux_info();
  if (linux_info.has_effective_capabilities()) {
    BERTH_TRY(security.effective_capabilities,
              capability_names(linux_info.effective_capabilities(), "container.linux_info.effective_capabilities"));
  } else if (linux_info.has_capability_info()) {
    BERTH_TRY(security.effective_capabilities,
              capability_names(linux_info.capability_info(), "container.linux_info.capability_info"));
  }
  if (linux_info.has_bounding_capabilities()) {
    BERTH_TRY(security.bounding_capabilities,
              capability_names(linux_info.bounding_capabilities(), "container.linux_info.bounding_capabilities"));
  }
  return security;
}

}  // namespace berth::agent
