// Leasing host id ranges to user namespaces, and keeping the leases across
// an agent restart.

#include "berth/isolators/user_namespace.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <fstream>
#include <set>

#include "support/temp_dir.hpp"

namespace berth::isolators {
namespace {

TEST(IdRangePool, RangesNeverOverlapAndComeBackWhenReleased) {
  IdRangePool pool(100000, 65536 * 3, 65536);
  auto a = pool.lease("a");
  auto b = pool.lease("b");
  auto c = pool.lease("c");
  ASSERT_TRUE(a && b && c);
  std::set<std::uint32_t> bases{a->base, b->base, c->base};
  EXPECT_EQ(bases, (std::set<std::uint32_t>{100000, 165536, 231072}));
  EXPECT_EQ(*pool.lease("a"), *a) << "a container asking again keeps its range";
  auto d = pool.lease("d");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().what(), "no free range of 65536 host ids left for a user namespace (3 containers hold all 3)");
  pool.release("b");
  auto again = pool.lease("d");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->base, b->base);
  EXPECT_FALSE(pool.adopt("e", *a)) << "a range held by another container";
  EXPECT_FALSE(pool.adopt("e", IdRange{100001, 65536})) << "not on a range boundary";
}

TEST(UserNamespaceIsolator, ContainersGetOneWhenAskedOrByDefault) {
  berth::testing::TempDir dir;
  auto isolator = UserNamespaceIsolator::create({.by_default = false, .first_id = 200000, .id_count = 65536 * 2,
                                                 .ids_per_container = 65536, .leases_dir = dir.path() / "userns"});
  ASSERT_TRUE(isolator) << isolator.error().what();
  auto plain = (*isolator)->prepare({.container_id = "c1"});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->user_ids);
  EXPECT_EQ(plain->namespaces & CLONE_NEWUSER, 0);

  ContainerConfig asking{.container_id = "c2"};
  asking.security.user_namespace = true;
  auto mapped = (*isolator)->prepare(asking);
  ASSERT_TRUE(mapped) << mapped.error().what();
  EXPECT_EQ(mapped->namespaces & CLONE_NEWUSER, CLONE_NEWUSER);
  EXPECT_EQ(mapped->user_ids, (IdRange{200000, 65536}));
  std::ifstream lease(dir.path() / "userns" / "c2");
  std::string text((std::istreambuf_iterator<char>(lease)), {});
  EXPECT_EQ(text, "200000 65536\n");
  ASSERT_TRUE((*isolator)->cleanup("c2"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "userns" / "c2"));
  EXPECT_EQ((*isolator)->pool().leased(), 0u);
}

TEST(UserNamespaceIsolator, ARestartedAgentKeepsTheLeasesOfItsContainersAndFreesTheRest) {
  berth::testing::TempDir dir;
  UserNamespaceOptions options{.by_default = true, .first_id = 300000, .id_count = 65536 * 4,
                               .ids_per_container = 65536, .leases_dir = dir.path() / "userns"};
  {
    auto before = UserNamespaceIsolator::create(options);
    ASSERT_TRUE(before);
    for (const auto* id : {"alive", "gone"}) ASSERT_TRUE((*before)->prepare({.container_id = id}));
  }
  std::ofstream(dir.path() / "userns" / "garbled") << "not a lease";
  auto after = UserNamespaceIsolator::create(options);
  ASSERT_TRUE(after);
  ASSERT_TRUE((*after)->recover({"alive", "garbled"}));
  EXPECT_EQ((*after)->pool().held_by("alive"), (IdRange{300000, 65536}));
  EXPECT_FALSE((*after)->pool().held_by("gone"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "userns" / "gone"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "userns" / "garbled"));
  // A new container does not get the range the recovered one holds.
  auto fresh = (*after)->prepare({.container_id = "new"});
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->user_ids->base, 365536u);
}

TEST(UserNamespaceIsolator, BadPoolsAreRefused) {
  berth::testing::TempDir dir;
  EXPECT_FALSE(UserNamespaceIsolator::create({.first_id = 0, .leases_dir = dir.path()}));
  EXPECT_FALSE(UserNamespaceIsolator::create({.first_id = 1000, .id_count = 10, .ids_per_container = 65536,
                                              .leases_dir = dir.path()}));
  EXPECT_FALSE(UserNamespaceIsolator::create({.first_id = 0xFFFF0000U, .id_count = 65536 * 2,
                                              .ids_per_container = 65536, .leases_dir = dir.path()}));
}

}  // namespace
}  // namespace berth::isolators
