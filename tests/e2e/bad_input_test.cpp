// End to end: bad input never crashes a daemon and always gets a clear answer.

#include <gtest/gtest.h>

#include "berth/common/http.hpp"
#include "support/cluster_test.hpp"
#include "support/root.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    cluster_.start_master();
  }
  void TearDown() override {
    if (!::testing::Test::IsSkipped()) cluster_.check_no_leaks();
  }
  Cluster cluster_;
};

TEST_F(BadInputTest, MalformedSchedulerCallsGet4xxWithAMessage) {
  auto port = cluster_.master_port();
  auto garbage = http_post(port, "/api/v1/scheduler", "{not json", "application/json");
  EXPECT_EQ(garbage.result(), http::Status::bad_request);
  EXPECT_NE(garbage.body().find("Failed to parse"), std::string::npos) << garbage.body();

  auto no_user = http_post(port, "/api/v1/scheduler",
                      R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}})", "application/json");
  EXPECT_EQ(no_user.result(), http::Status::bad_request);
  EXPECT_NE(no_user.body().find("user"), std::string::npos) << no_user.body();

  auto media = http_post(port, "/api/v1/scheduler", "{}", "text/plain");
  EXPECT_EQ(media.result(), http::Status::unsupported_media_type) << media.body();

  auto accept = http_post(port, "/api/v1/scheduler", R"({"type":"TEARDOWN"})", "application/json", "text/html");
  EXPECT_EQ(accept.result(), http::Status::not_acceptable) << accept.body();

  auto get = http::request_sync({"127.0.0.1", port}, http::make_request(http::Verb::get, "/api/v1/scheduler"), 5s);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->result(), http::Status::method_not_allowed);

  auto unsubscribed = http_post(port, "/api/v1/scheduler", R"({"type":"TEARDOWN","framework_id":{"value":"nope"}})",
                           "application/json");
  EXPECT_EQ(unsubscribed.result(), http::Status::forbidden) << unsubscribed.body();

  auto huge = http_post(port, "/api/v1/scheduler", std::string(8 << 20, 'x'), "application/json");
  EXPECT_EQ(huge.result(), http::Status::payload_too_large);

  auto agent_garbage = http_post(port, "/api/v1/agent", "\xff\xfe garbage", "application/x-protobuf");
  EXPECT_EQ(agent_garbage.result(), http::Status::bad_request);

  auto health = http::request_sync({"127.0.0.1", port}, http::make_request(http::Verb::get, "/health"), 5s);
  ASSERT_TRUE(health) << "the master died";
  EXPECT_EQ(health->result(), http::Status::ok);
}

TEST_F(BadInputTest, AgentRetriesAnUnreachableMasterWithBackoffAndSaysSo) {
  cluster_.stop_master();
  cluster_.start_agent();
  ASSERT_TRUE(wait_until([&] {
    auto log = cluster_.agent_log();
    std::size_t count = 0;
    for (auto pos = log.find("unreachable"); pos != std::string::npos; pos = log.find("unreachable", pos + 1)) ++count;
    return count >= 3;
  }, 20s)) << cluster_.agent_log();
  EXPECT_NE(cluster_.agent_log().find("retrying in"), std::string::npos);
  cluster_.start_master();
  EXPECT_TRUE(cluster_.wait_for_agent(30s)) << cluster_.agent_log();
}

struct FlagCase {
  std::string binary;
  std::vector<std::string> flags;
  std::string expected;  // part of the error message
};

TEST(InvalidFlags, StopTheDaemonAtStartWithAClearMessage) {
  BERTH_REQUIRE_ROOT();
  auto dir = std::filesystem::temp_directory_path() / ("berth-flags-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<FlagCase> cases{
      {"berth-master", {"--port=70000"}, "--port"},
      {"berth-master", {"--port=abc"}, "--port"},
      {"berth-master", {"--allocation_interval=-1"}, "--allocation_interval"},
      {"berth-master", {"--bogus=1"}, "bogus"},
      {"berth-agent", {"--work_dir=" + dir.string()}, "--master"},
      {"berth-agent", {"--master=127.0.0.1:1"}, "--work_dir"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--resources=cpus:-1"}, "--resources"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--cgroups_root=" + dir.string()},
       "--cgroups_root"},
      {"berth-agent", {"--master=127.0.0.1:99999", "--work_dir=" + dir.string()}, "--master"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--isolation=cgroups/cpu,cgroups/gpu"},
       "cgroups/gpu"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--network_cidr=10.88.0.1/16"},
       "--network_cidr: '10.88.0.1/16': host bits are set (the subnet is 10.88.0.0/16)"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--network_cidr=10.88.0.0"},
       "--network_cidr: '10.88.0.0' is not a CIDR subnet"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--egress_rate_limit_per_container=fast"},
       "--egress_rate_limit_per_container: 'fast' is not a number of bytes"},
      {"berth-agent", {"--master=127.0.0.1:1", "--work_dir=" + dir.string(), "--network_bridge=a-very-long-bridge"},
       "--network_bridge: interface name 'a-very-long-bridge' must have 1 to 15 characters"},
      {"berth", {"run", "--cpus=0", "--", "/bin/true"}, "cpus"},
      {"berth", {"run", "--publish=8080:80", "--", "/bin/true"}, "--publish needs --network bridge"},
      {"berth", {"run", "--network=bridge", "--publish=8080", "--", "/bin/true"}, "expected HOST:CONTAINER[/udp]"},
      {"berth", {"run", "--network=bridge", "--host_port=31000", "--", "/bin/true"}, "--host_port is for --network host"},
      {"berth", {"run", "--mem_limit=0", "--", "/bin/true"}, "--mem_limit"},
      {"berth", {"run"}, "command"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{bin(c.binary).string()};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    auto result = run(argv, 10s);
    std::string joined;
    for (const auto& f : c.flags) joined += f + " ";
    EXPECT_NE(result.exit_code, 0) << c.binary << " " << joined;
    EXPECT_NE((result.err + result.out).find(c.expected), std::string::npos)
        << c.binary << " " << joined << "\n" << result.err << result.out;
  }
  std::filesystem::remove_all(dir);
}

// On a cgroup hybrid host (the build hosts) the cgroup2 hierarchy lacks cpu
// and memory: the agent must refuse to start rather than run tasks unlimited,
// unless the operator says so, and then it says what is missing.
TEST(MissingCgroupControllers, StopTheAgentUnlessAllowedAndAreShownWhenAllowed) {
  BERTH_REQUIRE_ROOT();
  auto controllers = read_file(cgroup2_mount() / "cgroup.controllers");
  if (controllers.find("cpu") != std::string::npos && controllers.find("memory") != std::string::npos) {
    GTEST_SKIP() << "this host's cgroup2 offers cpu and memory: nothing is missing";
  }
  auto dir = std::filesystem::temp_directory_path() / ("berth-missing-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto root = cgroup2_mount() / ("berth-missing-" + std::to_string(::getpid()));
  std::vector<std::string> argv{bin("berth-agent").string(), "--master=127.0.0.1:1", "--work_dir=" + dir.string(),
                                "--cgroups_root=" + root.string(), "--isolation=cgroups/cpu,cgroups/mem"};
  auto refused = run(argv, 10s);
  EXPECT_NE(refused.exit_code, 0);
  auto said = refused.err + refused.out;
  EXPECT_NE(said.find("lacks the required cgroup controllers"), std::string::npos) << said;
  EXPECT_NE(said.find("--allow_missing_cgroup_controllers"), std::string::npos) << said;
  std::filesystem::remove(root);

  Cluster cluster({.master_flags = {}, .agent_flags = {"--isolation=cgroups/cpu,cgroups/mem,cgroups/hugetlb"}});
  cluster.start_master();
  cluster.start_agent();
  ASSERT_TRUE(cluster.wait_for_agent()) << cluster.agent_log();
  auto state = cluster.agent_state();
  ASSERT_TRUE(state.is_object());
  EXPECT_EQ(boost::json::serialize(state.at("cgroup_controllers_missing")), R"(["cpu","memory"])");
  EXPECT_EQ(boost::json::serialize(state.at("cgroup_controllers")), R"(["hugetlb"])");
  auto metrics = http_get(cluster.agent_port(), "/metrics").body();
  EXPECT_NE(metrics.find(R"(berth_agent_cgroup_controller_enabled{controller="memory"} 0)"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(berth_agent_cgroup_controller_enabled{controller="hugetlb"} 1)"), std::string::npos)
      << metrics;
  EXPECT_NE(cluster.agent_log().find("WITHOUT the cgroup controllers cpu, memory"), std::string::npos)
      << cluster.agent_log();
  cluster.check_no_leaks();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

using AgentApiTest = ClusterTest;


TEST_F(AgentApiTest, BadRequestsGet4xxAndTheAgentKeepsServing) {
  auto port = cluster_.agent_port();
  EXPECT_EQ(http_get(port, "/sandbox/../../etc/passwd").result(), http::Status::bad_request);
  EXPECT_EQ(http_get(port, "/sandbox/f/t/environ").result(), http::Status::bad_request);
  auto unknown = http_get(port, "/sandbox/no-framework/no-task/stdout");
  EXPECT_EQ(unknown.result(), http::Status::not_found);
  EXPECT_NE(unknown.body().find("no-task"), std::string::npos) << unknown.body();
  EXPECT_EQ(http_get(port, "/no/such/endpoint").result(), http::Status::not_found);
  auto wrong_method = http_post(port, "/state", "{}", "application/json");
  EXPECT_EQ(wrong_method.result(), http::Status::method_not_allowed);
  auto huge = http_post(port, "/state", std::string(4 << 20, 'x'), "application/json");
  EXPECT_EQ(huge.result(), http::Status::payload_too_large);

  auto health = http_get(port, "/health");
  EXPECT_EQ(health.result(), http::Status::ok);
  auto metrics = http_get(port, "/metrics");
  EXPECT_NE(metrics.body().find("berth_agent_registered 1"), std::string::npos) << metrics.body();
}

TEST_F(AgentApiTest, SandboxServesATasksOutputFromAnOffset) {
  auto result = cluster_.run({"--quiet", "--name=printer", "--", "/bin/echo", "0123456789"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string framework_id, task_id;
  ASSERT_TRUE(wait_until([&] {
    auto state = cluster_.agent_state();
    for (const auto& task : state.at("completed_tasks").as_array()) {
      framework_id = task.at("framework_id").as_string().c_str();
      task_id = task.at("id").as_string().c_str();
    }
    return !framework_id.empty();
  }, 10s)) << boost::json::serialize(cluster_.agent_state());
  EXPECT_TRUE(task_id.starts_with("printer")) << task_id;
  auto chunk = http_get(cluster_.agent_port(), "/sandbox/" + framework_id + "/" + task_id + "/stdout?offset=5");
  EXPECT_EQ(chunk.result(), http::Status::ok);
  EXPECT_EQ(chunk.body(), "56789\n");
  EXPECT_EQ(chunk["X-Berth-File-Size"], "11");
}

}  // namespace
}  // namespace berth::testing
