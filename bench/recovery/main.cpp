// Agent recovery time: N long-running containers on a real berth-agent, then
// the agent is killed (SIGKILL) and started again on the same work
// directory, several times. Measured per restart: the agent's own recovery
// (reading the checkpoints, re-attaching to every container through a pidfd,
// its cgroup and isolators; berth_agent_recovery_seconds), and the wall time
// from the new process's start until it serves /state with all N tasks
// running again and is registered with the master. Needs root.
//
//   berth_recovery_bench [--containers 100,1000] [--restarts 5]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <set>

#include "support/sim.hpp"
#include "berth/common/resources.hpp"
#include "berth/common/task_state.hpp"
#include "support/cluster.hpp"
#include "support/process.hpp"

namespace {

using namespace berth;
using namespace berth::testing;
using namespace std::chrono_literals;

constexpr const char* kTaskResources = "cpus:0.01;mem:4";

v1::TaskInfo sleeper(const v1::Offer& offer, const std::string& id) {
  auto task = sim_task(offer, id, kTaskResources);
  task.mutable_command()->set_value("/bin/sleep");
  task.mutable_command()->clear_arguments();
  task.mutable_command()->add_arguments("sleep");
  task.mutable_command()->add_arguments("1000000");
  return task;
}

// Tasks the agent's /state lists as running, and whether it is registered.
std::pair<std::size_t, bool> agent_view(testing::Cluster& cluster) {
  auto response = http::request_sync({"127.0.0.1", cluster.agent_port()},
                                     http::make_request(http::Verb::get, "/state"), 2s);
  if (!response || response->result() != http::Status::ok) return {0, false};
  boost::system::error_code ec;
  auto state = boost::json::parse(response->body(), ec);
  if (ec) return {0, false};
  std::size_t running = 0;
  for (const auto& framework : state.at("frameworks").as_array()) {
    for (const auto& task : framework.at("tasks").as_array()) running += task.at("state") == "TASK_RUNNING";
  }
  return {running, state.at("registered").as_bool()};
}

double metric(testing::Cluster& cluster, const std::string& name) {
  auto response = http::request_sync({"127.0.0.1", cluster.agent_port()},
                                     http::make_request(http::Verb::get, "/metrics"), 2s);
  if (!response) return -1;
  const auto& body = response->body();
  auto at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

double median(std::vector<double> values) {
  std::ranges::sort(values);
  return values.empty() ? 0 : values[values.size() / 2];
}

int measure(std::size_t containers, int restarts) {
  testing::Cluster cluster(testing::Cluster::Options{
      .master_flags = {},
      .agent_flags = {"--logging_level=warn"},
      .agent_master = {},
      .agent_resources = fmt::format("cpus:{};mem:{}", containers * 0.01 + 1, containers * 4 + 512)});
  cluster.start_master();
  cluster.start_agent();
  if (!cluster.wait_for_agent(20s)) {
    std::fprintf(stderr, "the agent did not register:\n%s\n", cluster.agent_log().c_str());
    return 1;
  }
  asio::io_context io;
  std::size_t launched = 0;
  std::set<std::string> running;  // updates may come twice
  auto began = Clock::now();
  SimFramework framework(
      io.get_executor(), {"127.0.0.1", cluster.master_port()}, "recovery",
      [&](const v1::Offer& offer) {
        std::vector<v1::TaskInfo> tasks;
        auto offered = Resources::from_proto(offer.resources()).value();
        auto fit = static_cast<std::size_t>(std::min(offered.cpus() / 0.01, offered.mem_mb() / 4) + 1e-6);
        for (std::size_t i = 0; i < fit && launched < containers; ++i) tasks.push_back(sleeper(offer, fmt::format("s{}", launched++)));
        return tasks;
      },
      [&](const v1::TaskStatus& status, Clock::time_point) {
        if (status.state() == v1::TASK_RUNNING) running.insert(status.task_id().value());
        if (is_terminal(status.state())) std::fprintf(stderr, "task %s ended: %s\n", status.task_id().value().c_str(), status.message().c_str());
      });
  asio::co_spawn(io, framework.run(), asio::detached);
  if (!run_until(io, [&] { return running.size() >= containers; }, 900s)) {
    std::fprintf(stderr, "only %zu of %zu tasks ran\n", running.size(), containers);
    return 1;
  }
  std::printf("%zu containers running after %.1f s\n", containers,
              std::chrono::duration<double>(Clock::now() - began).count());
  std::vector<double> inside, wall;
  for (int r = 0; r < restarts; ++r) {
    cluster.stop_agent(SIGKILL);
    auto start = Clock::now();
    cluster.start_agent();
    bool back = testing::wait_until([&] {
      auto [seen, registered] = agent_view(cluster);
      return registered && seen == containers;
    }, 120s, 2ms);
    auto took = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!back) {
      auto [seen, registered] = agent_view(cluster);
      std::fprintf(stderr, "restart %d: %zu running, registered %d; agent pid alive %d\n", r, seen, registered,
                   ::kill(cluster.agent_pid(), 0) == 0);
      std::fprintf(stderr, "restart %d: the agent did not come back with every task:\n%s\n", r, cluster.agent_log().c_str());
      return 1;
    }
    double recovery = metric(cluster, "berth_agent_recovery_seconds") * 1e3;
    inside.push_back(recovery);
    wall.push_back(took);
    std::printf("  restart %d: recovery %.1f ms, process start to all %zu running and registered %.1f ms\n", r,
                recovery, containers, took);
    io.run_for(50ms);  // the framework keeps up with the agent's re-sent updates
  }
  std::printf("%zu containers: median recovery %.1f ms, median start-to-serving %.1f ms over %d restarts\n",
              containers, median(inside), median(wall), restarts);
  framework.close();
  io.run_for(100ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Agent recovery time with N running containers"};
  std::vector<std::size_t> counts{100, 1000};
  int restarts = 5;
  app.add_option("--containers", counts, "Container counts to measure")->delimiter(',');
  app.add_option("--restarts", restarts, "Agent restarts per count");
  CLI11_PARSE(app, argc, argv);
  if (!testing::is_root()) {
    std::fprintf(stderr, "needs root: a real berth-agent creates cgroups and namespaces\n");
    return 1;
  }
  for (auto n : counts) {
    if (int rc = measure(n, restarts); rc != 0) return rc;
  }
  return 0;
}
