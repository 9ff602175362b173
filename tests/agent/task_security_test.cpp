#include "berth/agent/task_security.hpp"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

namespace v1 = berth::mesos::v1;

v1::TaskInfo labelled(const std::string& key, const std::string& value) {
  v1::TaskInfo task;
  auto* label = task.mutable_labels()->add_labels();
  label->set_key(key);
  label->set_value(value);
  return task;
}

TEST(TaskSecurity, NothingAskedLeavesTheAgentsDefaults) {
  auto security = task_security(v1::TaskInfo{});
  ASSERT_TRUE(security);
  EXPECT_FALSE(security->seccomp_profile);
  EXPECT_FALSE(security->effective_capabilities);
  EXPECT_FALSE(security->bounding_capabilities);
  EXPECT_FALSE(security->user_namespace);
}

TEST(TaskSecurity, MesosCapabilitiesBecomeCapNames) {
  v1::TaskInfo task;
  auto* linux_info = task.mutable_container()->mutable_linux_info();
  linux_info->mutable_effective_capabilities()->add_capabilities(v1::CapabilityInfo::NET_ADMIN);
  linux_info->mutable_bounding_capabilities()->add_capabilities(v1::CapabilityInfo::NET_ADMIN);
  linux_info->mutable_bounding_capabilities()->add_capabilities(v1::CapabilityInfo::SYS_TIME);
  auto security = task_security(task);
  ASSERT_TRUE(security) << security.error().what();
  EXPECT_EQ(*security->effective_capabilities, (std::set<std::string>{"CAP_NET_ADMIN"}));
  EXPECT_EQ(*security->bounding_capabilities, (std::set<std::string>{"CAP_NET_ADMIN", "CAP_SYS_TIME"}));

  v1::TaskInfo old_style;  // the deprecated capability_info counts as the effective set
  old_style.mutable_container()->mutable_linux_info()->mutable_capability_info()->add_capabilities(
      v1::CapabilityInfo::CHOWN);
  EXPECT_EQ(*task_security(old_style)->effective_capabilities, (std::set<std::string>{"CAP_CHOWN"}));

  v1::TaskInfo unknown;
  unknown.mutable_container()->mutable_linux_info()->mutable_effective_capabilities()->add_capabilities(
      v1::CapabilityInfo::UNKNOWN);
  EXPECT_EQ(task_security(unknown).error().what(),
            "container.linux_info.effective_capabilities: unknown capability 0");
}

TEST(TaskSecurity, LabelsChooseTheProfileAndTheUserNamespace) {
  EXPECT_EQ(*task_security(labelled("berth.seccomp_profile", "strict"))->seccomp_profile, "strict");
  EXPECT_EQ(task_security(labelled("berth.user_namespace", "true"))->user_namespace, true);
  EXPECT_EQ(task_security(labelled("berth.user_namespace", "false"))->user_namespace, false);
  EXPECT_EQ(task_security(labelled("berth.user_namespace", "yes")).error().what(),
            "labels[\"berth.user_namespace\"]: must be true or false, not 'yes'");
}

}  // namespace
}  // namespace berth::agent
