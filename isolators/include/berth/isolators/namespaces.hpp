#pragma once
// Gives every container its own pid, mount, uts and ipc namespaces.

#include <sched.h>

#include "berth/isolators/isolator.hpp"

namespace berth::isolators {

class NamespacesIsolator final : public Isolator {
 public:
  static constexpr int kNamespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;

  std::string_view name() const override { return "namespaces"; }
  Result<LaunchInfo> prepare(const ContainerConfig& /*config*/) override {
    LaunchInfo info;
    info.namespaces = kNamespaces;
    return info;
  }
};

}  // namespace berth::isolators
