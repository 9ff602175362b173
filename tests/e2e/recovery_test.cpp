// The agent killed with SIGKILL ten times at random moments (three times
// with the master), while a framework launches 100 long-running tasks (20 of
// them on the agent's bridge, with an address and interface of their own,
// and 10 from an image that takes seconds to pull, so that kills land
// mid-pull) and 10 that exit with status 3 after a moment: no task that ran
// is restarted or lost (each keeps its pid and container), tasks that ended
// while the agent was down report their true exit status, the framework's
// view of every task ends as the agent's, every update is acknowledged, and
// nothing is left afterwards: no process, cgroup, mount, interface or address
// lease.
//
// And a kill, or a graceful stop, while a task's image is being pulled: the
// restarted agent takes the pull up again, keeps the layers fetched before
// and the part of the layer that was arriving, and runs the task.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>

#include "berth/common/task_state.hpp"
#include "support/cluster.hpp"
#include "support/registry.hpp"
#include "support/registry_fault_proxy.hpp"
#include "support/root.hpp"
#include "support/sim.hpp"
#include "support/test_host_network.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct AgentTask {
  std::string container_id;
  std::int64_t pid = 0;
  std::string state;
};

std::map<std::string, AgentTask> agent_tasks(Cluster& cluster) {
  std::map<std::string, AgentTask> out;
  auto state = cluster.agent_state();
  if (!state.is_object()) return out;
  for (const auto& framework : state.at("frameworks").as_array()) {
    for (const auto& task : framework.at("tasks").as_array()) {
      out[std::string(task.at("id").as_string())] = {std::string(task.at("container_id").as_string()),
                                                      task.at("pid").as_int64(),
                                                      std::string(task.at("state").as_string())};
    }
  }
  return out;
}

std::size_t entries(const fs::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
  return n;
}

// A cluster inside a network namespace of the test's own (nothing of the
// machine's network is touched), its agent with the bridge isolator.
class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    ASSERT_NO_FATAL_FAILURE(network_.enter());
    // An image that takes a few seconds to pull, so that kills land mid-pull.
    registry_.emplace();
    images_.emplace(*registry_);
    images_->large({.repository = "chaos", .total_bytes = 8 << 20, .layers = 1, .seed = 9, .on_busybox = true});
    proxy_.emplace(registry_->port());
    proxy_->limit_rate(2 << 20);
    cluster_.emplace(Cluster::Options{
        .master_flags = {},
        .agent_flags = {"--isolation=cgroups/cpu,cgroups/mem,cgroups/pids,network/bridge",
                        "--network_cidr=10.88.0.0/24", "--insecure_registries=" + proxy_->address()}});
    cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }
  void TearDown() override {
    if (cluster_ && !::testing::Test::IsSkipped()) {
      cluster_->check_no_leaks();
      EXPECT_EQ(bridge_interfaces(), 0u);
      EXPECT_EQ(leases(), 0u);
    }
    cluster_.reset();
    network_.leave();
  }
  std::size_t bridge_interfaces() { return network_.bridge_interfaces().size(); }
  std::size_t leases() { return entries(cluster_->dir() / "agent/network/leases"); }

  std::string slow_image() const { return proxy_->address() + "/chaos:latest"; }

  TestHostNetwork network_;
  std::optional<TestRegistry> registry_;
  std::optional<TestImages> images_;
  std::optional<RegistryFaultProxy> proxy_;
  std::optional<Cluster> cluster_;
};

TEST_F(RecoveryTest, TenKillsAtRandomMomentsLoseNoTask) {
  constexpr int kSleepers = 100;
  constexpr int kShort = 10;
  constexpr int kBridged = 20;  // the first sleepers
  constexpr int kFromImage = 10;  // the next ones
  std::mt19937 random(std::random_device{}());
  asio::io_context io;
  // The framework's view: each logical task's current id, and every update per id.
  std::map<std::string, std::string> current;  // logical name -> task id
  std::set<std::string> pending;               // logical names to launch
  std::map<std::string, std::vector<v1::TaskStatus>> updates;  // task id -> updates in order
  for (int i = 0; i < kSleepers; ++i) pending.insert("s" + std::to_string(i));
  for (int i = 0; i < kShort; ++i) pending.insert("x" + std::to_string(i));
  int attempt = 0;
  std::map<std::string, std::string> logical_of;  // task id -> logical name
  SimFramework framework(
      io.get_executor(), {"127.0.0.1", cluster_->master_port()}, "chaos",
      [&](const v1::Offer& offer) {
        std::vector<v1::TaskInfo> tasks;
        for (auto it = pending.begin(); it != pending.end() && tasks.size() < 20;) {
          auto id = *it + "-" + std::to_string(attempt++);
          auto task = sim_task(offer, id, "cpus:0.01;mem:4");
          task.mutable_command()->set_shell(true);
          task.mutable_command()->clear_arguments();
          task.mutable_command()->set_value(it->starts_with("s") ? "exec sleep 100000" : "sleep 3; exit 3");
          auto index = std::stoi(it->substr(1));
          if (it->starts_with("s") && index < kBridged) {
            auto* label = task.mutable_labels()->add_labels();
            label->set_key("berth.network");
            label->set_value("bridge");
          } else if (it->starts_with("s") && index < kBridged + kFromImage) {
            task.mutable_container()->set_type(v1::ContainerInfo::MESOS);
            auto* image = task.mutable_container()->mutable_mesos()->mutable_image();
            image->set_type(v1::Image::DOCKER);
            image->mutable_docker()->set_name(slow_image());
          }
          current[*it] = id;
          logical_of[id] = *it;
          tasks.push_back(std::move(task));
          it = pending.erase(it);
        }
        return tasks;
      },
      [&](const v1::TaskStatus& status, Clock::time_point) {
        const auto& id = status.task_id().value();
        updates[id].push_back(status);
        auto logical = logical_of.find(id);
        if (logical == logical_of.end() || !is_terminal(status.state())) return;
        // A launch the agent never started (killed mid-launch, or the offer
        // went with it) is tried again under a new id; nothing that ran is.
        bool ran = std::ranges::any_of(updates[id], [](const auto& u) { return u.state() == v1::TASK_RUNNING; });
        if (!ran && current[logical->second] == id) pending.insert(logical->second);
      });
  framework.keep_subscribed(3600);
  asio::co_spawn(io, framework.run(), asio::detached);

  std::map<std::string, AgentTask> first_seen;  // task id -> the container and pid it first ran in
  auto snapshot = [&] {
    for (const auto& [id, task] : agent_tasks(*cluster_)) {
      if (task.state != "TASK_RUNNING" || task.pid <= 0) continue;
      auto [it, fresh] = first_seen.emplace(id, task);
      if (!fresh) {
        EXPECT_EQ(it->second.pid, task.pid) << id << " was restarted";
        EXPECT_EQ(it->second.container_id, task.container_id) << id << " moved container";
      }
    }
  };
  for (int kill = 0; kill < 10; ++kill) {
    io.run_for(std::chrono::milliseconds(std::uniform_int_distribution<>(20, 600)(random)));
    snapshot();
    // Three times the master goes too, just before the agent: everyone re-registers with the new one.
    bool master_too = kill % 3 == 2;
    if (master_too) cluster_->stop_master(SIGKILL);
    cluster_->stop_agent(SIGKILL);
    io.run_for(std::chrono::milliseconds(std::uniform_int_distribution<>(0, 300)(random)));
    if (master_too) cluster_->start_master();
    cluster_->start_agent();
    ASSERT_TRUE(cluster_->wait_for_agent()) << cluster_->agent_log();
  }
  // Everything settles: 100 sleepers run, the short tasks have ended.
  auto settled = [&] {
    int running = 0, ended = 0;
    for (const auto& [logical, id] : current) {
      if (pending.contains(logical) || updates[id].empty()) return false;
      auto state = updates[id].back().state();
      if (logical.starts_with("s") && state == v1::TASK_RUNNING) ++running;
      if (logical.starts_with("x") && is_terminal(state)) ++ended;
    }
    return running == kSleepers && ended == kShort;
  };
  auto describe = [&] {
    std::map<std::string, int> states;
    std::string ids;
    for (const auto& [logical, id] : current) {
      auto key = logical.substr(0, 1) + ":" + (pending.contains(logical) ? "pending"
                                               : updates[id].empty()     ? "no update"
                                                                         : v1::TaskState_Name(updates[id].back().state()));
      ++states[key];
      if (!pending.contains(logical) && updates[id].empty()) ids += id + " ";
    }
    std::string out;
    for (const auto& [key, count] : states) out += key + "=" + std::to_string(count) + " ";
    return out + "without an update: " + ids;
  };
  // The tasks end with the test, whatever it found.
  struct EndTasks {
    Cluster& cluster;
    ~EndTasks() {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(cluster.cgroups_root(), ec)) {
        if (entry.is_directory()) std::ofstream(entry.path() / "cgroup.kill") << "1";
      }
    }
  } end_tasks{*cluster_};
  ASSERT_TRUE(run_until(io, settled, 120s)) << describe() << "\n" << cluster_->master_log() << "\nAGENT\n" << cluster_->agent_log();
  snapshot();
  auto tasks = agent_tasks(*cluster_);
  for (const auto& [logical, id] : current) {
    SCOPED_TRACE(logical + " as " + id);
    const auto& last = updates[id].back();
    if (logical.starts_with("s")) {
      ASSERT_TRUE(tasks.contains(id));
      EXPECT_EQ(tasks[id].state, "TASK_RUNNING");
      EXPECT_EQ(tasks[id].pid, first_seen[id].pid);
      EXPECT_EQ(last.state(), v1::TASK_RUNNING);
    } else {
      EXPECT_EQ(last.state(), v1::TASK_FAILED) << last.message();
      bool exit_code_3 = std::ranges::any_of(last.labels().labels(), [](const auto& label) {
        return label.key() == "exit_code" && label.value() == "3";
      });
      EXPECT_TRUE(exit_code_3) << "the task's own exit status, even if it ended while the agent was down: "
                               << last.message();
    }
  }
  // No task that ran ever got a second life or a terminal update.
  for (const auto& [id, seen] : updates) {
    if (!logical_of[id].starts_with("s")) continue;
    bool ran = false;
    for (const auto& update : seen) {
      if (update.state() == v1::TASK_RUNNING) ran = true;
      if (ran) {
        EXPECT_FALSE(is_terminal(update.state())) << id << ": " << update.message();
      }
    }
  }
  EXPECT_TRUE(wait_until([&] { return cluster_->agent_state().at("status_updates_pending").as_int64() == 0; }, 30s))
      << "every update acknowledged";
  // The image takes 4 s to pull and the agent never lived that long between
  // kills: its pull was cut, taken up again and resumed where it broke off.
  auto log = cluster_->agent_log();
  EXPECT_NE(log.find("launching it again"), std::string::npos);
  EXPECT_NE(log.find("resuming its download at byte"), std::string::npos);
  EXPECT_EQ(framework.subscriptions(), 4u) << "subscribed again after each of the three master restarts";
  // One address and one interface per bridged task: none of a cut launch's stayed.
  EXPECT_TRUE(wait_until([&] { return leases() == kBridged && bridge_interfaces() == kBridged; }, 10s))
      << leases() << " leases, " << bridge_interfaces() << " interfaces";
  // The operator ends the tasks (cgroup.kill); the agent reports them, and
  // the fixture checks that nothing is left.
  for (const auto& entry : std::filesystem::directory_iterator(cluster_->cgroups_root())) {
    if (entry.is_directory()) std::ofstream(entry.path() / "cgroup.kill") << "1";
  }
  EXPECT_TRUE(run_until(io, [&] { return agent_tasks(*cluster_).empty() ||
                                         std::ranges::none_of(agent_tasks(*cluster_), [](const auto& t) {
                                           return t.second.state == "TASK_RUNNING";
                                         }); }, 60s));
  framework.close();
  io.run_for(200ms);
}

TEST(PullRecoveryTest, AKillMidPullResumesThePullKeepsWhatWasFetchedAndRunsTheTask) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry;
  TestImages images(registry);
  auto image = images.large({.repository = "slow", .total_bytes = 12 << 20, .layers = 3, .seed = 5, .on_busybox = true});
  ASSERT_EQ(image.layers.size(), 4u);
  RegistryFaultProxy proxy(registry.port());
  proxy.limit_rate(2 << 20);
  Cluster cluster(Cluster::Options{
      .master_flags = {},
      .agent_flags = {"--insecure_registries=" + proxy.address(), "--image_pull_parallelism=1"}});
  cluster.start_master();
  cluster.start_agent();
  ASSERT_TRUE(cluster.wait_for_agent()) << cluster.agent_log();
  auto store = cluster.dir() / "agent/images/layers";
  auto log = cluster.dir() / "run.log";
  auto run = cluster.run_async({"--image=" + proxy.address() + "/slow:latest", "--shell", "--",
                                "cat /large/* | wc -c; test -x /bin/busybox && echo complete"},
                               log);
  // Killed once a layer is in and some of the next has arrived.
  auto downloading = [&] {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store / "partial", ec)) {
      if (entry.file_size(ec) > 0) return true;
    }
    return false;
  };
  ASSERT_TRUE(wait_until([&] { return entries(store / "sha256") >= 2 && downloading(); }, 60s, 20ms))
      << read_file(log) << cluster.agent_log();
  cluster.stop_agent(SIGKILL);
  auto committed = static_cast<int>(entries(store / "sha256"));
  ASSERT_LT(committed, 4);
  auto downloads = proxy.blob_downloads_seen();
  proxy.limit_rate(0);
  cluster.start_agent();
  ASSERT_EQ(run.wait(120s), 0) << read_file(log) << cluster.agent_log();
  auto out = read_file(log);
  EXPECT_NE(out.find(std::to_string(12 << 20) + "\ncomplete\n"), std::string::npos) << out;
  EXPECT_NE(out.find("again after an agent restart"), std::string::npos) << out;
  // After the restart: the config, and only the layers not committed before the kill.
  EXPECT_EQ(proxy.blob_downloads_seen() - downloads, 1 + 4 - committed);
  EXPECT_NE(cluster.agent_log().find(std::to_string(4 - committed) + " layers fetched, " +
                                     std::to_string(committed) + " already here"),
            std::string::npos)
      << cluster.agent_log();
  // The layer cut mid-download was not fetched from its start again.
  EXPECT_NE(cluster.agent_log().find("resuming its download at byte"), std::string::npos) << cluster.agent_log();
  EXPECT_EQ(cluster.agent_log().find(" 0 kept from an interrupted pull"), std::string::npos) << cluster.agent_log();
  EXPECT_EQ(entries(store / "ingest"), 0u);
  EXPECT_EQ(entries(store / "partial"), 0u);
  cluster.check_no_leaks();
}

// systemd's restart of an agent in the middle of a long pull: the agent does
// not wait for the pull to stop (it would take a minute here), and the next
// agent takes it up.
TEST(PullRecoveryTest, AGracefulStopMidPullEndsThePullAndTheNextAgentTakesItUp) {
  BERTH_REQUIRE_ROOT();
  TestRegistry registry;
  TestImages images(registry);
  auto image = images.large({.repository = "long", .total_bytes = 32 << 20, .layers = 2, .seed = 6, .on_busybox = true});
  RegistryFaultProxy proxy(registry.port());
  proxy.limit_rate(512 << 10);
  Cluster cluster(Cluster::Options{.master_flags = {}, .agent_flags = {"--insecure_registries=" + proxy.address()}});
  cluster.start_master();
  cluster.start_agent();
  ASSERT_TRUE(cluster.wait_for_agent()) << cluster.agent_log();
  auto store = cluster.dir() / "agent/images/layers";
  auto log = cluster.dir() / "run.log";
  auto run = cluster.run_async({"--image=" + proxy.address() + "/long:latest", "--", "/bin/true"}, log);
  ASSERT_TRUE(wait_until([&] { return entries(store / "ingest") >= 1; }, 60s, 20ms)) << read_file(log);
  // Process::stop sends SIGKILL after 10 s; the pull has more than 50 s to go.
  EXPECT_EQ(cluster.stop_agent(SIGTERM), 0) << cluster.agent_log();
  EXPECT_LT(entries(store / "sha256"), 3u);
  proxy.limit_rate(0);
  cluster.start_agent();
  ASSERT_EQ(run.wait(120s), 0) << read_file(log) << cluster.agent_log();
  EXPECT_NE(read_file(log).find("again after an agent restart"), std::string::npos) << read_file(log);
  EXPECT_EQ(entries(store / "sha256"), 3u);
  EXPECT_EQ(entries(store / "ingest"), 0u);
  EXPECT_EQ(entries(store / "partial"), 0u);
  cluster.check_no_leaks();
}

}  // namespace
}  // namespace berth::testing

