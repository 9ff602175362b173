// End to end: two masters electing a leader through a real ZooKeeper, an
// agent and `berth run` following whichever leads. The standby answers the
// APIs with 307 to the leader; when the leader dies, the standby takes over
// and the agent re-registers with it. A master whose ZooKeeper is down knows
// no leader and answers 503.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <csignal>

#include "support/cluster.hpp"
#include "support/root.hpp"
#include "support/zookeeper.hpp"

namespace berth::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::value state_of(std::uint16_t port) {
  auto response = http::request_sync({"127.0.0.1", port}, http::make_request(http::Verb::get, "/state"), 2s);
  if (!response || response->result() != http::Status::ok) return {};
  boost::system::error_code ec;
  auto value = json::parse(response->body(), ec);
  return ec ? json::value{} : value;
}

bool elected(std::uint16_t port) {
  auto state = state_of(port);
  return state.is_object() && state.at("elected").as_bool();
}

http::Response subscribe_at(std::uint16_t port) {
  auto request = http::make_request(http::Verb::post, "/api/v1/scheduler",
                                    R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x"}}})",
                                    "application/json");
  auto response = http::request_sync({"127.0.0.1", port}, std::move(request), 5s);
  return response ? *response : http::Response{};
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    zookeeper_.emplace();
    auto zk = zookeeper_->url("/berth");
    cluster_.emplace(Cluster::Options{.master_flags = {"--zk=" + zk, "--zk_session_timeout=2"},
                                      .agent_flags = {"--heartbeat_interval=0.2"},
                                      .agent_master = zk});
  }
  void TearDown() override {
    if (!::testing::Test::IsSkipped()) cluster_->check_no_leaks();
  }

  Process start_standby(std::uint16_t port) {
    return Process::spawn({bin("berth-master").string(), "--port=" + std::to_string(port),
                           "--work_dir=" + (cluster_->dir() / "standby").string(), "--allocation_interval=0.1",
                           "--heartbeat_interval=1", "--zk=" + zookeeper_->url("/berth"), "--zk_session_timeout=2"},
                          cluster_->dir() / "standby.log");
  }

  std::optional<TestZooKeeper> zookeeper_;
  std::optional<Cluster> cluster_;
};

TEST_F(LeaderElectionTest, TheStandbyRedirectsToTheLeaderAndTakesOverWhenItDies) {
  cluster_->start_master();
  ASSERT_TRUE(wait_until([&] { return elected(cluster_->master_port()); }, 30s)) << cluster_->master_log();
  auto standby_port = free_port();
  auto standby = start_standby(standby_port);
  ASSERT_TRUE(wait_until([&] { return state_of(standby_port).is_object(); }, 30s))
      << read_file(cluster_->dir() / "standby.log");
  EXPECT_FALSE(elected(standby_port));
  ASSERT_TRUE(wait_until([&] { return state_of(standby_port).as_object().contains("leader"); }, 10s));
  EXPECT_EQ(state_of(standby_port).at("leader_info").at("address").at("port").as_int64(), cluster_->master_port());

  auto redirected = subscribe_at(standby_port);
  EXPECT_EQ(redirected.result(), http::Status::temporary_redirect) << redirected.body();
  EXPECT_EQ(std::string(redirected[boost::beast::http::field::location]),
            "http://" + cluster_->master_address() + "/api/v1/scheduler");

  // The agent and berth run find the leader through ZooKeeper.
  cluster_->start_agent();
  ASSERT_TRUE(cluster_->wait_for_agent(30s)) << cluster_->agent_log();
  auto zk = zookeeper_->url("/berth");
  auto first = run({bin("berth").string(), "run", "--master=" + zk, "--", "/bin/echo", "via zookeeper"}, 60s);
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "via zookeeper\n");

  // The leader dies; once its session expires, the standby leads and the
  // agent registers with it.
  EXPECT_EQ(cluster_->stop_master(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(wait_until([&] { return elected(standby_port); }, 30s)) << read_file(cluster_->dir() / "standby.log");
  ASSERT_TRUE(wait_until([&] {
    auto state = state_of(standby_port);
    return state.is_object() && state.at("activated_slaves").as_int64() == 1;
  }, 30s)) << cluster_->agent_log();
  auto second = run({bin("berth").string(), "run", "--master=" + zk, "--", "/bin/echo", "after failover"}, 60s);
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "after failover\n");
  EXPECT_EQ(standby.stop(SIGTERM), 0);
}

TEST_F(LeaderElectionTest, WithoutZooKeeperNoLeaderIsKnownAnd503IsTheAnswer) {
  zookeeper_->stop();
  cluster_->start_master();
  auto refused = subscribe_at(cluster_->master_port());
  EXPECT_EQ(refused.result(), http::Status::service_unavailable) << refused.body();
  EXPECT_NE(refused.body().find("No leading master"), std::string::npos) << refused.body();
  auto state = state_of(cluster_->master_port());
  ASSERT_TRUE(state.is_object());
  EXPECT_FALSE(state.at("elected").as_bool());
  EXPECT_FALSE(state.as_object().contains("leader"));
  EXPECT_EQ(http::request_sync({"127.0.0.1", cluster_->master_port()}, http::make_request(http::Verb::get, "/health"),
                               2s)
                ->result(),
            http::Status::ok)
      << "a standby is alive, if not leading";
}

}  // namespace
}  // namespace berth::testing
