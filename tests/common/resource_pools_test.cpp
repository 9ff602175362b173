#include "berth/common/resource_pools.hpp"

#include <gtest/gtest.h>

#include "berth/common/roles.hpp"

namespace berth {
namespace {

namespace v1 = mesos::v1;

ResourcePools pools(const char* text) { return ResourcePools::parse(text).value(); }

TEST(Roles, AreValidatedAsMesosDoes) {
  for (const char* good : {"*", "eng", "eng/web", "a.b-c_d", "x/y/z"}) EXPECT_TRUE(roles::validate(good)) << good;
  EXPECT_EQ(roles::validate("").error().message(), "a role name must not be empty");
  EXPECT_EQ(roles::validate("eng/").error().message(), "role 'eng/' must not start or end with '/'");
  EXPECT_EQ(roles::validate("eng//web").error().message(), "role 'eng//web' has an empty segment");
  EXPECT_EQ(roles::validate("eng/..").error().message(), "role 'eng/..': '..' is not a valid segment");
  EXPECT_EQ(roles::validate("eng/*").error().message(), "role 'eng/*': '*' is not a valid segment");
  EXPECT_EQ(roles::validate("-eng").error().message(), "role '-eng': a segment must not start with '-'");
  EXPECT_FALSE(roles::validate("has space"));
  EXPECT_FALSE(roles::validate("back\\slash"));
  EXPECT_EQ(roles::path("eng/web/api"), (std::vector<std::string>{"eng", "eng/web", "eng/web/api"}));
  EXPECT_TRUE(roles::is_strict_subrole("eng/web", "eng"));
  EXPECT_FALSE(roles::is_strict_subrole("eng", "eng"));
  EXPECT_FALSE(roles::is_strict_subrole("engine", "eng"));
  EXPECT_FALSE(roles::is_strict_subrole("eng", "*"));
}

TEST(ResourcePools, TextSplitsByRoleAndPrintsBack) {
  auto parsed = pools("cpus:4;mem:1024;cpus(eng):2;ports(eng/web):[1-10]");
  EXPECT_EQ(parsed.unreserved(), Resources::parse("cpus:4;mem:1024").value());
  EXPECT_DOUBLE_EQ(parsed.pool("eng").cpus(), 2);
  EXPECT_EQ(parsed.pool("eng/web").ranges("ports").size(), 1u);
  EXPECT_TRUE(parsed.pool("ads").empty());
  EXPECT_DOUBLE_EQ(parsed.total().cpus(), 6);
  EXPECT_EQ(parsed.to_string(), "cpus:4;mem:1024;cpus(eng):2;ports(eng/web):[1-10]");
  EXPECT_EQ(ResourcePools::parse(parsed.to_string()).value(), parsed);
  EXPECT_EQ(pools("cpus(*):1"), pools("cpus:1"));
  EXPECT_FALSE(ResourcePools::parse("cpus(eng:1"));
  EXPECT_FALSE(ResourcePools::parse("cpus(a b):1"));
  EXPECT_FALSE(ResourcePools::parse("cpus(eng):1;cpus(eng):2")) << "given twice in one role";
}

TEST(ResourcePools, ProtosCarryTheReservationInEitherFormat) {
  auto parsed = pools("cpus:1;cpus(eng):2");
  auto post = parsed.to_proto(ResourcePools::Format::post_refinement, "eng");
  ASSERT_EQ(post.size(), 2);
  for (const auto& resource : post) {
    EXPECT_EQ(resource.allocation_info().role(), "eng");
    if (resource.scalar().value() == 2) {
      ASSERT_EQ(resource.reservations_size(), 1);
      EXPECT_EQ(resource.reservations(0).role(), "eng");
      EXPECT_EQ(resource.reservations(0).type(), v1::Resource::ReservationInfo::STATIC);
    } else {
      EXPECT_EQ(resource.reservations_size(), 0);
    }
  }
  EXPECT_EQ(ResourcePools::from_proto(post).value(), parsed);
  auto pre = parsed.to_proto(ResourcePools::Format::pre_refinement);
  EXPECT_EQ(ResourcePools::from_proto(pre).value(), parsed);
  for (const auto& resource : pre) EXPECT_FALSE(resource.has_allocation_info());
}

TEST(ResourcePools, WhatARoleMayTakeAndArithmetic) {
  auto agent = pools("cpus:1;cpus(eng):2;cpus(eng/web):4;cpus(ads):8");
  EXPECT_DOUBLE_EQ(agent.allocatable_to("eng/web").total().cpus(), 7) << "unreserved, eng and eng/web";
  EXPECT_DOUBLE_EQ(agent.allocatable_to("eng").total().cpus(), 3);
  EXPECT_DOUBLE_EQ(agent.allocatable_to("*").total().cpus(), 1);
  EXPECT_DOUBLE_EQ(agent.reserved().total().cpus(), 14);
  EXPECT_TRUE(agent.contains(pools("cpus(eng):2")));
  EXPECT_FALSE(agent.contains(pools("cpus(eng):3")));
  EXPECT_FALSE(agent.contains(pools("cpus:2"))) << "reserved cpus are not unreserved ones";
  auto left = agent - pools("cpus(ads):8;cpus:1");
  EXPECT_TRUE(left.pool("ads").empty());
  EXPECT_EQ(left + pools("cpus(ads):8;cpus:1"), agent);
}

}  // namespace
}  // namespace berth
