#include "berth/agent/host_user.hpp"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

TEST(HostUser, AccountsComeFromTheHostsDatabases) {
  auto root = host_user("root");
  ASSERT_TRUE(root) << root.error().what();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  auto nobody = host_user("nobody");
  ASSERT_TRUE(nobody) << nobody.error().what();
  EXPECT_EQ(nobody->uid, 65534u);
  auto unknown = host_user("no-such-user");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().what(), "user 'no-such-user' does not exist on this agent");
}

}  // namespace
}  // namespace berth::agent
