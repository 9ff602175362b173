#pragma once
// A gtest fixture around a running single-node Cluster (root required), which
// asserts after each test that nothing leaked.

#include <gtest/gtest.h>

#include "support/cluster.hpp"
#include "support/root.hpp"

namespace berth::testing {

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    cluster_.start_master();
    cluster_.start_agent();
    ASSERT_TRUE(cluster_.wait_for_agent()) << cluster_.agent_log();
  }
  void TearDown() override {
    if (!::testing::Test::IsSkipped()) cluster_.check_no_leaks();
  }
  Cluster cluster_;
};

}  // namespace berth::testing
