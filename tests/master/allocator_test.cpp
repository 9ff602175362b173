// The hierarchical DRF allocator on its own: the DRF paper's worked example,
// weights, the role tree, quota guarantees and limits with their headroom,
// filters, suppression, reservations, and invariants that must hold under
// random workloads.

#include "berth/master/allocator.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <random>

namespace berth::master {
namespace {

using namespace std::chrono_literals;

Resources parse(const std::string& text) { return Resources::parse(text).value(); }
ResourcePools pools(const std::string& text) { return ResourcePools::parse(text).value(); }

Allocator fixed_order() { return Allocator({.shuffle_agents = false}); }

// What a round gave each (framework, role).
std::map<std::pair<std::string, std::string>, Resources> by_client(const std::vector<Allocation>& allocations) {
  std::map<std::pair<std::string, std::string>, Resources> out;
  for (const auto& a : allocations) out[{a.framework_id, a.role}] += a.resources.total();
  return out;
}

double cpus(const Resources& r) { return r.cpus(); }

TEST(DominantShare, IsTheLargestShareOfAnyScalar) {
  auto total = parse("cpus:9;mem:18;ports:[1-10]");
  EXPECT_DOUBLE_EQ(dominant_share(parse("cpus:3;mem:1"), total), 1.0 / 3);
  EXPECT_DOUBLE_EQ(dominant_share(parse("cpus:1;mem:4"), total), 4.0 / 18);
  EXPECT_DOUBLE_EQ(dominant_share(Resources{}, total), 0);
}

// The worked example of the DRF paper: 9 CPUs and 18 GB; user A's tasks need
// <1 CPU, 4 GB>, user B's <3 CPUs, 1 GB>. Each offer goes to the framework
// with the lower dominant share, which launches one task and gives back the
// rest. DRF ends with A running three tasks and B two, both at a dominant
// share of 2/3.
TEST(Allocator, ReproducesTheDrfPaperExample) {
  auto allocator = fixed_order();
  allocator.add_agent("agent", pools("cpus:9;mem:18"));
  allocator.add_framework("A", {"*"});
  allocator.add_framework("B", {"*"});
  std::map<std::string, Resources> task{{"A", parse("cpus:1;mem:4")}, {"B", parse("cpus:3;mem:1")}};
  std::map<std::string, int> tasks;
  for (int round = 0; round < 10; ++round) {
    auto offers = allocator.allocate();
    if (offers.empty()) break;
    ASSERT_EQ(offers.size(), 1u);
    const auto& offer = offers[0];
    auto offered = offer.resources.total();
    if (offered.contains(task[offer.framework_id])) {
      ++tasks[offer.framework_id];
      offered -= task[offer.framework_id];
    }
    allocator.recover(offer.framework_id, "*", "agent", ResourcePools(offered));
    if (!offered.contains(task["A"]) && !offered.contains(task["B"])) break;
  }
  EXPECT_EQ(tasks["A"], 3);
  EXPECT_EQ(tasks["B"], 2);
  EXPECT_NEAR(allocator.dominant_share("A", "*"), 2.0 / 3, 1e-9);
  EXPECT_NEAR(allocator.dominant_share("B", "*"), 2.0 / 3, 1e-9);
}

TEST(Allocator, EqualFrameworksGetEqualSharesAndWeightsScaleThem) {
  auto allocator = fixed_order();
  for (int i = 0; i < 30; ++i) allocator.add_agent(fmt::format("a{:02}", i), pools("cpus:1;mem:100"));
  allocator.add_framework("f1", {"light"});
  allocator.add_framework("f2", {"heavy"});
  ASSERT_TRUE(allocator.set_weight("heavy", 2));
  auto given = by_client(allocator.allocate());
  EXPECT_EQ(cpus(given[{"f1", "light"}]), 10);
  EXPECT_EQ(cpus(given[{"f2", "heavy"}]), 20);
  EXPECT_FALSE(allocator.set_weight("heavy", 0));
  EXPECT_FALSE(allocator.set_weight("bad//role", 1));
}

TEST(Allocator, SharesAreFairAtEveryLevelOfTheRoleTree) {
  auto allocator = fixed_order();
  for (int i = 0; i < 40; ++i) allocator.add_agent(fmt::format("a{:02}", i), pools("cpus:2;mem:1024"));
  allocator.add_framework("web", {"eng/web"});
  allocator.add_framework("db1", {"eng/db"});
  allocator.add_framework("db2", {"eng/db"});
  allocator.add_framework("ads", {"ads"});
  auto given = by_client(allocator.allocate());
  // ads against eng: half each; within eng, web against db: half each; the two db frameworks share db.
  EXPECT_EQ(cpus(given[{"ads", "ads"}]), 40);
  EXPECT_EQ(cpus(given[{"web", "eng/web"}]), 20);
  EXPECT_EQ(cpus(given[{"db1", "eng/db"}]), 10);
  EXPECT_EQ(cpus(given[{"db2", "eng/db"}]), 10);
  EXPECT_EQ(cpus(allocator.role("eng")->allocated), 40);
  EXPECT_EQ(allocator.role("eng/db")->frameworks, (std::set<std::string>{"db1", "db2"}));
}

TEST(Allocator, AFrameworkInSeveralRolesIsAClientInEach) {
  auto allocator = fixed_order();
  for (int i = 0; i < 10; ++i) allocator.add_agent(fmt::format("a{}", i), pools("cpus:1;mem:10"));
  allocator.add_framework("multi", {"a", "b"});
  allocator.add_framework("single", {"c"});
  auto given = by_client(allocator.allocate());
  EXPECT_EQ(cpus(given[{"multi", "a"}]) + cpus(given[{"multi", "b"}]) + cpus(given[{"single", "c"}]), 10);
  EXPECT_NEAR(cpus(given[{"multi", "a"}]), cpus(given[{"single", "c"}]), 1);
  EXPECT_NEAR(cpus(given[{"multi", "b"}]), cpus(given[{"single", "c"}]), 1);
}

TEST(Allocator, AQuotaGuaranteeIsMetFirstAndItsHeadroomHeldBack) {
  auto allocator = fixed_order();
  for (int i = 0; i < 20; ++i) allocator.add_agent(fmt::format("a{:02}", i), pools("cpus:1;mem:100"));
  // DRF alone would hand prod almost nothing: its weight is tiny.
  ASSERT_TRUE(allocator.set_weight("prod", 0.01));
  ASSERT_TRUE(allocator.set_quota("prod", {parse("cpus:10"), {}}));
  allocator.add_framework("dev", {"dev"});
  allocator.add_framework("prod", {"prod"});
  auto given = by_client(allocator.allocate());
  EXPECT_EQ(cpus(given[{"prod", "prod"}]), 10);
  EXPECT_EQ(cpus(given[{"dev", "dev"}]), 10);
  EXPECT_EQ(cpus(allocator.role("prod")->consumed), 10);

  // While prod is away, its unmet guarantee is headroom dev may not take.
  auto second = fixed_order();
  for (int i = 0; i < 20; ++i) second.add_agent(fmt::format("a{:02}", i), pools("cpus:1;mem:100"));
  ASSERT_TRUE(second.set_quota("prod", {parse("cpus:10"), {}}));
  second.add_framework("dev", {"dev"});
  second.add_framework("prod", {"prod"});
  second.set_framework_active("prod", false);
  EXPECT_EQ(cpus(by_client(second.allocate())[{"dev", "dev"}]), 10);
  second.set_framework_active("prod", true);
  EXPECT_EQ(cpus(by_client(second.allocate())[{"prod", "prod"}]), 10);
}

TEST(Allocator, AQuotaLimitCapsARoleAndItsSubroles) {
  auto allocator = fixed_order();
  allocator.add_agent("big", pools("cpus:4;mem:400"));
  for (int i = 0; i < 6; ++i) allocator.add_agent(fmt::format("a{}", i), pools("cpus:1;mem:100"));
  ASSERT_TRUE(allocator.set_quota("batch", {{}, parse("cpus:6")}));
  allocator.add_framework("b1", {"batch/nightly"});
  allocator.add_framework("b2", {"batch"});
  auto given = by_client(allocator.allocate());
  EXPECT_EQ(cpus(given[{"b1", "batch/nightly"}]) + cpus(given[{"b2", "batch"}]), 6);
  EXPECT_EQ(cpus(allocator.role("batch")->allocated), 6);
  EXPECT_TRUE(allocator.allocate().empty()) << "nothing more while at the limit";
  auto bad = allocator.set_quota("x", {parse("cpus:5"), parse("cpus:4")});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "role 'x': the limit of cpus (4) is below its guarantee (5)");
  EXPECT_FALSE(allocator.set_quota("*", {parse("cpus:1"), {}}));
  EXPECT_FALSE(allocator.set_quota("x", {parse("ports:[1-2]"), {}}));
}

TEST(Allocator, FiltersHoldUntilTheyExpireOrMoreIsFree) {
  auto allocator = fixed_order();
  allocator.add_agent("agent", pools("cpus:4;mem:400"));
  allocator.add_framework("f", {"*"});
  auto now = AllocatorClock::now();
  auto offers = allocator.allocate(now);
  ASSERT_EQ(offers.size(), 1u);
  allocator.recover("f", "*", "agent", offers[0].resources, 5s, now);
  EXPECT_TRUE(allocator.allocate(now + 1s).empty()) << "declined for 5 s";

  allocator.add_framework("g", {"*"});
  auto to_g = allocator.allocate(now + 1s);
  ASSERT_EQ(to_g.size(), 1u);
  EXPECT_EQ(to_g[0].framework_id, "g") << "the filter is f's alone";
  allocator.recover("g", "*", "agent", to_g[0].resources, {}, now);
  allocator.remove_framework("g");
  EXPECT_EQ(allocator.allocate(now + 6s).size(), 1u) << "expired";

  // A filter covers what was refused; an agent with more free is offered again.
  auto small = fixed_order();
  small.add_agent("agent", pools("cpus:4;mem:400"));
  small.add_framework("f", {"*"});
  small.add_framework("holder", {"*"});
  small.suppress("f", {});
  auto held = small.allocate(now);
  ASSERT_EQ(held.size(), 1u);
  small.recover("holder", "*", "agent", pools("cpus:2;mem:200"), {}, now);
  small.suppress("holder", {});
  small.revive("f", {});
  auto half = small.allocate(now);
  ASSERT_EQ(half.size(), 1u);
  small.recover("f", "*", "agent", half[0].resources, 60s, now);
  EXPECT_TRUE(small.allocate(now).empty());
  small.recover("holder", "*", "agent", pools("cpus:2;mem:200"), {}, now);
  auto all = small.allocate(now);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].resources.total(), parse("cpus:4;mem:400"));
}

TEST(Allocator, SuppressAndReviveWorkPerRole) {
  auto allocator = fixed_order();
  for (int i = 0; i < 4; ++i) allocator.add_agent(fmt::format("a{}", i), pools("cpus:1;mem:10"));
  allocator.add_framework("f", {"a", "b"}, {"b"});
  auto given = by_client(allocator.allocate());
  EXPECT_EQ(cpus(given[{"f", "a"}]), 4);
  EXPECT_FALSE(given.contains({"f", "b"})) << "subscribed with b suppressed";
  for (int i = 0; i < 4; ++i) allocator.recover("f", "a", fmt::format("a{}", i), pools("cpus:1;mem:10"), 100s);
  allocator.suppress("f", {"a"});
  allocator.revive("f", {"b"});
  given = by_client(allocator.allocate());
  EXPECT_EQ(cpus(given[{"f", "b"}]), 4);
  for (int i = 0; i < 4; ++i) allocator.recover("f", "b", fmt::format("a{}", i), pools("cpus:1;mem:10"));
  allocator.suppress("f", {});
  EXPECT_TRUE(allocator.allocate().empty());
  allocator.revive("f", {"a"});  // also drops a's filters
  EXPECT_EQ(cpus(by_client(allocator.allocate())[{"f", "a"}]), 4);
}

TEST(Allocator, ReservedResourcesGoOnlyToTheirRoleAndItsSubroles) {
  auto allocator = fixed_order();
  allocator.add_agent("agent", pools("cpus:2;mem:200;cpus(eng):4;mem(eng):400"));
  allocator.add_framework("ads", {"ads"});
  auto to_ads = allocator.allocate();
  ASSERT_EQ(to_ads.size(), 1u);
  EXPECT_EQ(to_ads[0].resources, pools("cpus:2;mem:200"));
  EXPECT_EQ(cpus(allocator.role("eng")->consumed), 4) << "unallocated reservations count toward eng's quota";
  allocator.add_framework("web", {"eng/web"});
  auto to_web = allocator.allocate();
  ASSERT_EQ(to_web.size(), 1u);
  EXPECT_EQ(to_web[0].framework_id, "web");
  EXPECT_EQ(to_web[0].resources, pools("cpus(eng):4;mem(eng):400"));
  EXPECT_EQ(cpus(allocator.role("eng")->consumed), 4);
  EXPECT_EQ(allocator.allocated_on("agent"), pools("cpus:2;mem:200;cpus(eng):4;mem(eng):400"));
}

TEST(Allocator, RemovingAnAgentOrFrameworkReleasesWhatItHeld) {
  auto allocator = fixed_order();
  allocator.add_agent("a1", pools("cpus:2;mem:20"));
  allocator.add_agent("a2", pools("cpus:2;mem:20"));
  allocator.add_framework("f", {"r"});
  allocator.add_framework("g", {"r"});
  allocator.allocate();
  EXPECT_EQ(cpus(allocator.role("r")->allocated), 4);
  allocator.remove_agent("a1");
  EXPECT_EQ(cpus(allocator.role("r")->allocated), 2);
  EXPECT_EQ(cpus(allocator.cluster_total()), 2);
  allocator.remove_framework("f");
  allocator.remove_framework("g");
  EXPECT_FALSE(allocator.role("r").has_value()) << "a role nothing refers to is forgotten";
  EXPECT_TRUE(allocator.allocated_on("a2").empty());
  // Tasks found on a re-registering agent count before their framework returns.
  allocator.allocate_existing("h", "r", "a2", pools("cpus:1;mem:5"));
  EXPECT_EQ(cpus(allocator.allocated("h", "r")), 1);
  EXPECT_TRUE(allocator.allocate().empty()) << "h is inactive until it subscribes";
  allocator.set_framework_active("h", true);
  EXPECT_EQ(cpus(by_client(allocator.allocate())[{"h", "r"}]), 1);
}

// Random workloads: agents coming and going, frameworks in random roles
// taking part of their offers and giving the rest back with random filters,
// tasks ending, suppress and revive. After every step the books balance, no
// limit is exceeded, no inactive or suppressed client is offered anything,
// and no agent is left with free resources while an unfiltered client wants
// them.
TEST(Allocator, InvariantsHoldUnderRandomWorkloads) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    Allocator allocator({.shuffle_agents = true, .seed = seed});
    std::vector<std::string> roles{"a", "a/x", "a/y", "b", "c/d/e"};
    ASSERT_TRUE(allocator.set_quota("b", {{}, parse("cpus:7")}));
    ASSERT_TRUE(allocator.set_weight("a/x", 3));
    std::map<std::string, std::string> framework_role;
    std::set<std::string> suppressed;
    std::map<std::string, Resources> agent_total;
    // (framework, agent) -> resources in use by tasks
    std::map<std::pair<std::string, std::string>, ResourcePools> in_use;
    auto now = AllocatorClock::now();
    for (int step = 0; step < 300; ++step) {
      now += 1s;
      switch (pick(10)) {
        case 0: {
          auto id = fmt::format("agent{}", pick(12));
          if (agent_total.contains(id)) break;
          auto total = parse(fmt::format("cpus:{};mem:{}", 1 + pick(4), 100 * (1 + pick(4))));
          agent_total[id] = total;
          allocator.add_agent(id, ResourcePools(total));
          break;
        }
        case 1: {
          if (agent_total.empty()) break;
          auto it = std::next(agent_total.begin(), pick(static_cast<int>(agent_total.size())));
          allocator.remove_agent(it->first);
          std::erase_if(in_use, [&](const auto& entry) { return entry.first.second == it->first; });
          agent_total.erase(it);
          break;
        }
        case 2: {
          auto id = fmt::format("fw{}", pick(8));
          if (framework_role.contains(id)) break;
          framework_role[id] = roles[static_cast<std::size_t>(pick(static_cast<int>(roles.size())))];
          allocator.add_framework(id, {framework_role[id]});
          break;
        }
        case 3: {
          if (framework_role.empty()) break;
          auto id = std::next(framework_role.begin(), pick(static_cast<int>(framework_role.size())))->first;
          if (suppressed.contains(id)) {
            allocator.revive(id, {});
            suppressed.erase(id);
          } else {
            allocator.suppress(id, {});
            suppressed.insert(id);
          }
          break;
        }
        case 4: {  // a task ends
          if (in_use.empty()) break;
          auto it = std::next(in_use.begin(), pick(static_cast<int>(in_use.size())));
          allocator.recover(it->first.first, framework_role[it->first.first], it->first.second, it->second, {}, now);
          in_use.erase(it);
          break;
        }
        default: {
          auto offers = allocator.allocate(now);
          for (const auto& offer : offers) {
            ASSERT_FALSE(suppressed.contains(offer.framework_id)) << "offered to a suppressed client";
            ASSERT_EQ(offer.role, framework_role[offer.framework_id]);
            // Keep about half of the cpus as a task, give the rest back.
            auto total = offer.resources.total();
            double keep = std::floor(total.cpus() / 2);
            auto task = keep > 0 ? parse(fmt::format("cpus:{};mem:{}", keep, std::floor(total.mem_mb() / 2)))
                                 : Resources{};
            if (keep > 0) in_use[{offer.framework_id, offer.agent_id}] += ResourcePools(task);
            allocator.recover(offer.framework_id, offer.role, offer.agent_id, ResourcePools(total - task),
                              std::chrono::seconds(pick(3)), now);
          }
        }
      }
      // The books balance: agents, frameworks and roles agree.
      Resources by_agents, by_tasks;
      for (const auto& [id, total] : agent_total) {
        auto allocated = allocator.allocated_on(id).total();
        ASSERT_TRUE(total.contains(allocated)) << id;
        by_agents += allocated;
      }
      for (const auto& [key, resources] : in_use) by_tasks += resources.total();
      ASSERT_EQ(by_agents, by_tasks) << "only what tasks use stays allocated between rounds: " << by_agents.to_string()
                                     << " against " << by_tasks.to_string() << " at step " << step;
      Resources by_frameworks;
      for (const auto& [id, role] : framework_role) by_frameworks += allocator.allocated(id, role);
      ASSERT_EQ(by_frameworks, by_agents);
      Resources by_top_roles;
      for (const auto& top : {"a", "b", "c"}) {
        if (auto summary = allocator.role(top)) by_top_roles += summary->allocated;
      }
      ASSERT_EQ(by_top_roles, by_agents);
      if (auto b = allocator.role("b")) {
        ASSERT_LE(b->allocated.cpus(), 7);
      }
    }
    // Work conservation: with every filter gone and nobody suppressed, a
    // round leaves free only what role b's limit keeps from b's frameworks.
    for (const auto& id : suppressed) allocator.revive(id, {});
    for (const auto& [id, role] : framework_role) allocator.revive(id, {});
    allocator.allocate(now + 1h);
    bool someone_unlimited = std::ranges::any_of(framework_role, [](const auto& f) { return f.second != "b"; });
    if (someone_unlimited) {
      for (const auto& [id, total] : agent_total) {
        EXPECT_EQ(allocator.allocated_on(id).total(), total) << id << " left with free resources";
      }
    }
  }
}

}  // namespace
}  // namespace berth::master
