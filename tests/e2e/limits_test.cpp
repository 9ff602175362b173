// End to end: a task's limits from `berth run` reach the agent, bad ones end
// the task with TASK_ERROR, a running task is accounted in /containers and
// /metrics, and its limits can be changed while it runs. (Enforcement by the
// kernel is proven in the test VM: tests/vm.)

#include <gtest/gtest.h>

#include "support/cluster_test.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

using LimitsTest = ClusterTest;

// The agent's /state entry for the first task whose id starts with `prefix`.
json::object running_task(Cluster& cluster, const std::string& prefix) {
  json::object found;
  wait_until([&] {
    auto state = cluster.agent_state();
    if (!state.is_object()) return false;
    for (const auto& framework : state.at("frameworks").as_array()) {
      for (const auto& task : framework.at("tasks").as_array()) {
        if (task.at("id").as_string().starts_with(prefix) && task.at("state").as_string() == "TASK_RUNNING") {
          found = task.as_object();
          return true;
        }
      }
    }
    return false;
  }, 20s);
  return found;
}

TEST_F(LimitsTest, LimitsTheAgentCannotHonourAreATaskErrorNamingThem) {
  auto below = cluster_.run({"--mem=64", "--mem_limit=32", "--", "/bin/true"});
  EXPECT_EQ(below.exit_code, 1) << below.err;
  EXPECT_NE(below.err.find("ERROR"), std::string::npos) << below.err;
  EXPECT_NE(below.err.find("limits[\"mem\"]"), std::string::npos) << below.err;

  auto label = cluster_.run({"--label=berth.pids_max=lots", "--", "/bin/true"});
  EXPECT_EQ(label.exit_code, 1) << label.err;
  EXPECT_NE(label.err.find("berth.pids_max"), std::string::npos) << label.err;
  EXPECT_NE(label.err.find("lots"), std::string::npos) << label.err;

  auto io = cluster_.run({"--label=berth.io.max=8:0 rbps=fast", "--", "/bin/true"});
  EXPECT_EQ(io.exit_code, 1) << io.err;
  EXPECT_NE(io.err.find("berth.io.max"), std::string::npos) << io.err;
}

TEST_F(LimitsTest, RunningTaskIsAccountedAndItsLimitsChangeWhileItRuns) {
  auto log = cluster_.dir() / "cli.log";
  // Busy for a moment, so that its cgroup has CPU time to report, then idle.
  auto cli = cluster_.run_async({"--name=worker", "--cpus=0.5", "--cpus_limit=1", "--mem=64", "--mem_limit=128",
                                 "--label=berth.pids_max=32", "--shell", "--",
                                 "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 600"},
                                log);
  auto task = running_task(cluster_, "worker");
  ASSERT_FALSE(task.empty()) << read_file(log) << cluster_.agent_log();
  std::string container_id = task.at("container_id").as_string().c_str();
  const auto& limits = task.at("limits").as_object();
  EXPECT_DOUBLE_EQ(limits.at("cpus").to_number<double>(), 0.5);
  EXPECT_DOUBLE_EQ(limits.at("cpus_limit").to_number<double>(), 1);
  EXPECT_DOUBLE_EQ(limits.at("mem").to_number<double>(), 64);
  EXPECT_DOUBLE_EQ(limits.at("mem_limit").to_number<double>(), 128);
  EXPECT_EQ(limits.at("pids_max").to_number<std::uint64_t>(), 32u);

  // /containers: Mesos's /monitor/statistics shape, from the task's own cgroup.
  json::object statistics;
  ASSERT_TRUE(wait_until([&] {
    auto response = http_get(cluster_.agent_port(), "/containers");
    if (response.result() != http::Status::ok) return false;
    auto containers = json::parse(response.body());
    for (const auto& container : containers.as_array()) {
      if (container.at("container_id").as_string() != container_id) continue;
      statistics = container.at("statistics").as_object();
      return statistics.at("cpus_usage_time_secs").to_number<double>() > 0;
    }
    return false;
  }, 20s)) << json::serialize(statistics);
  EXPECT_EQ(statistics.at("cpus_limit").to_number<double>(), 1);
  EXPECT_EQ(statistics.at("mem_limit_bytes").to_number<std::uint64_t>(), 128u << 20);
  EXPECT_GT(statistics.at("timestamp").to_number<double>(), 1e9);
  EXPECT_GE(statistics.at("cpus_usage_time_secs").to_number<double>(),
            statistics.at("cpus_user_time_secs").to_number<double>());

  auto metrics = http_get(cluster_.agent_port(), "/metrics").body();
  auto series = "berth_container_cpu_usage_seconds_total{container_id=\"" + container_id + "\"";
  EXPECT_NE(metrics.find(series), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE berth_container_cpu_usage_seconds_total counter"), std::string::npos);
  EXPECT_NE(metrics.find("berth_agent_cgroup_controller_enabled{controller="), std::string::npos) << metrics;

  // Live updates: bad ones name the field and change nothing.
  auto target = "/containers/" + container_id + "/limits";
  auto bad = http_post(cluster_.agent_port(), target, R"({"mem_limit": "lots"})");
  EXPECT_EQ(bad.result(), http::Status::bad_request);
  EXPECT_NE(bad.body().find("mem_limit"), std::string::npos) << bad.body();
  auto below = http_post(cluster_.agent_port(), target, R"({"cpus": 2})");
  EXPECT_EQ(below.result(), http::Status::bad_request) << "cpus 2 is above cpus_limit 1: " << below.body();
  auto unknown = http_post(cluster_.agent_port(), "/containers/no-such-container/limits", R"({"cpus": 1})");
  EXPECT_EQ(unknown.result(), http::Status::not_found);
  EXPECT_NE(unknown.body().find("no-such-container"), std::string::npos) << unknown.body();

  auto good = http_post(cluster_.agent_port(), target, R"({"cpus_limit": 2, "mem_limit": "infinity", "pids_max": 64})");
  ASSERT_EQ(good.result(), http::Status::ok) << good.body();
  auto in_force = json::parse(good.body()).as_object();
  EXPECT_DOUBLE_EQ(in_force.at("cpus_limit").to_number<double>(), 2);
  EXPECT_EQ(in_force.at("mem_limit").as_string(), "infinity");
  EXPECT_EQ(in_force.at("pids_max").to_number<std::uint64_t>(), 64u);
  auto after = running_task(cluster_, "worker");
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(json::serialize(after.at("limits")), json::serialize(in_force));
  EXPECT_EQ(after.at("pid"), task.at("pid")) << "the task keeps running through the update";

  cli.signal(SIGINT);
  auto code = cli.wait(20s);
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 130) << read_file(log);
}

}  // namespace
}  // namespace berth::testing
