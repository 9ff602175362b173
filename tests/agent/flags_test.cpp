#include "berth/agent/flags.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "berth/agent/resources_detect.hpp"
#include "berth/common/flags.hpp"

namespace berth::agent {
namespace {

struct Parsed {
  std::optional<int> exit;
  Flags flags;
};

Parsed parse(std::vector<const char*> args) {
  args.insert(args.begin(), "berth-agent");
  Parsed out;
  CLI::App app;
  add_flags(app, out.flags);
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  out.exit = berth::flags::parse(app, static_cast<int>(args.size()), args.data());
  testing::internal::GetCapturedStderr();
  testing::internal::GetCapturedStdout();
  return out;
}

TEST(AgentFlags, MesosStyleFlags) {
  auto parsed = parse({"--master=10.0.0.1:5050", "--work_dir=/var/lib/berth", "--port=6000",
                       "--resources=cpus:2;mem:512", "--recover=cleanup"});
  ASSERT_FALSE(parsed.exit);
  EXPECT_EQ(parsed.flags.master, "10.0.0.1:5050");
  EXPECT_EQ(parsed.flags.work_dir, "/var/lib/berth");
  EXPECT_EQ(parsed.flags.port, 6000);
  EXPECT_EQ(parsed.flags.resources, "cpus:2;mem:512");
  EXPECT_EQ(parsed.flags.recover, "cleanup");
}

TEST(AgentFlags, DefaultsFollowMesos) {
  auto parsed = parse({"--master=m:5050", "--work_dir=/w"});
  ASSERT_FALSE(parsed.exit);
  EXPECT_EQ(parsed.flags.port, 5051);
  EXPECT_EQ(parsed.flags.recover, "reconnect");
}

TEST(AgentFlags, EnvironmentFallback) {
  ::setenv("BERTH_WORK_DIR", "/from/env", 1);
  ::setenv("BERTH_PORT", "7001", 1);
  auto parsed = parse({"--master=m:5050"});
  ::unsetenv("BERTH_WORK_DIR");
  ::unsetenv("BERTH_PORT");
  ASSERT_FALSE(parsed.exit);
  EXPECT_EQ(parsed.flags.work_dir, "/from/env");
  EXPECT_EQ(parsed.flags.port, 7001);
}

TEST(AgentFlags, CommandLineBeatsEnvironment) {
  ::setenv("BERTH_PORT", "7001", 1);
  auto parsed = parse({"--master=m:5050", "--work_dir=/w", "--port=7002"});
  ::unsetenv("BERTH_PORT");
  ASSERT_FALSE(parsed.exit);
  EXPECT_EQ(parsed.flags.port, 7002);
}

TEST(AgentFlags, BadInputStopsWithAnError) {
  EXPECT_NE(parse({"--master=m", "--work_dir=/w", "--port=70000"}).exit.value_or(0), 0);
  EXPECT_NE(parse({"--master=m", "--work_dir=/w", "--port=abc"}).exit.value_or(0), 0);
  EXPECT_NE(parse({"--master=m", "--work_dir=/w", "--recover=maybe"}).exit.value_or(0), 0);
  EXPECT_NE(parse({"--master=m", "--work_dir=/w", "--no_such_flag=1"}).exit.value_or(0), 0);
  EXPECT_NE(parse({"--work_dir=/w"}).exit.value_or(0), 0);  // --master is required
}

TEST(AgentResources, DetectedDefaultsLeaveTheSystemAReserve) {
  HostFacts facts{.cpus = 8, .mem_mb = 16384, .disk_mb = 100000};
  auto resources = default_resources(facts);
  EXPECT_DOUBLE_EQ(resources.cpus(), 8);
  EXPECT_DOUBLE_EQ(resources.mem_mb(), 15360);
  EXPECT_DOUBLE_EQ(resources.disk_mb(), 100000 - 5120);
  ASSERT_EQ(resources.ranges("ports").size(), 1u);
  EXPECT_EQ(resources.ranges("ports")[0], (std::pair<std::uint64_t, std::uint64_t>{31000, 32000}));
}

TEST(AgentResources, FlagOverridesOnlyWhatItNames) {
  HostFacts facts{.cpus = 8, .mem_mb = 16384, .disk_mb = 100000};
  auto resources = agent_resources(facts, "cpus:2;ports:[5000-5010]").value().total();
  EXPECT_DOUBLE_EQ(resources.cpus(), 2);
  EXPECT_DOUBLE_EQ(resources.mem_mb(), 15360);
  EXPECT_EQ(resources.ranges("ports")[0], (std::pair<std::uint64_t, std::uint64_t>{5000, 5010}));
  auto json = agent_resources(facts, R"([{"name":"mem","type":"SCALAR","scalar":{"value":100}}])").value().total();
  EXPECT_DOUBLE_EQ(json.mem_mb(), 100);
  EXPECT_DOUBLE_EQ(json.cpus(), 8);
}

TEST(AgentResources, StaticReservationsSplitTheResourcesByRole) {
  HostFacts facts{.cpus = 8, .mem_mb = 16384, .disk_mb = 100000};
  auto pools = agent_resources(facts, "cpus:2;cpus(eng):6;mem(eng/web):1024").value();
  EXPECT_DOUBLE_EQ(pools.unreserved().cpus(), 2) << "cpus named: not detected";
  EXPECT_DOUBLE_EQ(pools.pool("eng").cpus(), 6);
  EXPECT_DOUBLE_EQ(pools.pool("eng/web").mem_mb(), 1024);
  EXPECT_DOUBLE_EQ(pools.unreserved().mem_mb(), 0) << "mem named: not detected";
  EXPECT_DOUBLE_EQ(pools.unreserved().disk_mb(), 100000 - 5120);
  auto json = agent_resources(
      facts, R"([{"name":"cpus","type":"SCALAR","scalar":{"value":3},"reservations":[{"type":"STATIC","role":"ads"}]}])");
  ASSERT_TRUE(json) << json.error().what();
  EXPECT_DOUBLE_EQ(json->pool("ads").cpus(), 3);
  auto bad = agent_resources(facts, "cpus(bad role):1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("role 'bad role'"), std::string::npos) << bad.error().what();
}

TEST(AgentResources, BadFlagNamesTheFlag) {
  HostFacts facts{.cpus = 8, .mem_mb = 16384, .disk_mb = 100000};
  auto resources = agent_resources(facts, "cpus:-1");
  ASSERT_FALSE(resources);
  EXPECT_NE(resources.error().what().find("--resources"), std::string::npos);
}

}  // namespace
}  // namespace berth::agent
