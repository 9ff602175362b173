#include "berth/master/allocator.hpp"

#include <gtest/gtest.h>

namespace berth::master {
namespace {

Resources parse(const char* text) { return Resources::parse(text).value(); }

TEST(DominantShare, IsTheLargestShareOfAnyResource) {
  auto total = parse("cpus:9;mem:18");
  EXPECT_DOUBLE_EQ(dominant_share(parse("cpus:3;mem:1"), total), 1.0 / 3);
  EXPECT_DOUBLE_EQ(dominant_share(parse("cpus:1;mem:4"), total), 4.0 / 18);
  EXPECT_DOUBLE_EQ(dominant_share(Resources{}, total), 0);
}

// The worked example of the DRF paper: 9 CPUs and 18 GB; user A's tasks need
// <1 CPU, 4 GB>, user B's <3 CPUs, 1 GB>. DRF gives A three tasks and B two,
// equalising their dominant shares at 2/3.
TEST(Allocate, ReproducesTheDrfPaperExample) {
  auto total = parse("cpus:9;mem:18");
  auto a_task = parse("cpus:1;mem:4");
  auto b_task = parse("cpus:3;mem:1");
  std::vector<AllocationCandidate> frameworks{{"A", {}, {}}, {"B", {}, {}}};
  Resources free = total;
  int a_tasks = 0, b_tasks = 0;
  for (int round = 0; round < 10; ++round) {
    auto grants = allocate(total, {{"agent", free}}, frameworks);
    ASSERT_EQ(grants.size(), 1u);
    auto& winner = grants[0].framework_id == "A" ? frameworks[0] : frameworks[1];
    auto& task = grants[0].framework_id == "A" ? a_task : b_task;
    if (!free.contains(task)) break;
    free -= task;
    winner.allocated += task;
    (grants[0].framework_id == "A" ? a_tasks : b_tasks)++;
  }
  EXPECT_EQ(a_tasks, 3);
  EXPECT_EQ(b_tasks, 2);
  EXPECT_NEAR(dominant_share(frameworks[0].allocated, total), 2.0 / 3, 1e-9);
  EXPECT_NEAR(dominant_share(frameworks[1].allocated, total), 2.0 / 3, 1e-9);
}

TEST(Allocate, SkipsFrameworksThatFilteredTheAgent) {
  auto total = parse("cpus:4;mem:4096");
  std::vector<AllocationCandidate> frameworks{{"A", {}, {"agent-1"}}, {"B", parse("cpus:2;mem:10"), {}}};
  auto grants = allocate(total, {{"agent-1", total}}, frameworks);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].framework_id, "B");
  EXPECT_EQ(grants[0].resources, total);
}

TEST(Allocate, EachAgentGoesToTheLowestShareAndCountsTowardIt) {
  auto total = parse("cpus:4;mem:400");
  std::vector<AgentAvailable> agents{{"s1", parse("cpus:2;mem:200")}, {"s2", parse("cpus:2;mem:200")}};
  auto grants = allocate(total, agents, {{"A", {}, {}}, {"B", {}, {}}});
  ASSERT_EQ(grants.size(), 2u);
  EXPECT_NE(grants[0].framework_id, grants[1].framework_id);
}

TEST(Allocate, NothingToOfferOrNobodyToOfferTo) {
  auto total = parse("cpus:4;mem:400");
  EXPECT_TRUE(allocate(total, {{"s1", Resources{}}}, {{"A", {}, {}}}).empty());
  EXPECT_TRUE(allocate(total, {{"s1", total}}, {}).empty());
}

}  // namespace
}  // namespace berth::master
