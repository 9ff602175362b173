// The agent killed with SIGKILL ten times, at random moments, while a
// framework launches 100 long-running tasks and 10 that exit with status 3
// after a moment: no task that ran is restarted or lost (each keeps its pid
// and container), tasks that ended while the agent was down report their
// true exit status, the framework's view of every task ends as the agent's,
// every update is acknowledged, and nothing is left afterwards.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>

#include "berth/common/task_state.hpp"
#include "support/cluster_test.hpp"
#include "support/sim.hpp"

namespace berth::testing {
namespace {

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

using RecoveryTest = ClusterTest;

TEST_F(RecoveryTest, TenKillsAtRandomMomentsLoseNoTask) {
  constexpr int kSleepers = 100;
  constexpr int kShort = 10;
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
      io.get_executor(), {"127.0.0.1", cluster_.master_port()}, "chaos",
      [&](const v1::Offer& offer) {
        std::vector<v1::TaskInfo> tasks;
        for (auto it = pending.begin(); it != pending.end() && tasks.size() < 20;) {
          auto id = *it + "-" + std::to_string(attempt++);
          auto task = sim_task(offer, id, "cpus:0.01;mem:4");
          task.mutable_command()->set_shell(true);
          task.mutable_command()->clear_arguments();
          task.mutable_command()->set_value(it->starts_with("s") ? "exec sleep 100000" : "sleep 3; exit 3");
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
  asio::co_spawn(io, framework.run(), asio::detached);

  std::map<std::string, AgentTask> first_seen;  // task id -> the container and pid it first ran in
  auto snapshot = [&] {
    for (const auto& [id, task] : agent_tasks(cluster_)) {
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
    cluster_.stop_agent(SIGKILL);
    io.run_for(std::chrono::milliseconds(std::uniform_int_distribution<>(0, 300)(random)));
    cluster_.start_agent();
    ASSERT_TRUE(cluster_.wait_for_agent()) << cluster_.agent_log();
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
  } end_tasks{cluster_};
  ASSERT_TRUE(run_until(io, settled, 120s)) << describe() << "\n" << cluster_.master_log() << "\nAGENT\n" << cluster_.agent_log();
  snapshot();
  auto tasks = agent_tasks(cluster_);
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
  EXPECT_TRUE(wait_until([&] { return cluster_.agent_state().at("status_updates_pending").as_int64() == 0; }, 30s))
      << "every update acknowledged";
  // The operator ends the tasks (cgroup.kill); the agent reports them, and
  // the fixture checks that nothing is left.
  for (const auto& entry : std::filesystem::directory_iterator(cluster_.cgroups_root())) {
    if (entry.is_directory()) std::ofstream(entry.path() / "cgroup.kill") << "1";
  }
  EXPECT_TRUE(run_until(io, [&] { return agent_tasks(cluster_).empty() ||
                                         std::ranges::none_of(agent_tasks(cluster_), [](const auto& t) {
                                           return t.second.state == "TASK_RUNNING";
                                         }); }, 60s));
  framework.close();
  io.run_for(200ms);
}

}  // namespace
}  // namespace berth::testing
