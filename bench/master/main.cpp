// berth_master_bench: the master end to end on loopback, against a real
// berth-master process (Google Benchmark; each case is one long measurement,
// reported through its counters).
//
//   BM_AcceptToRunning/real_agent:0  one framework launching one no-op task at
//       a time on a simulated agent that answers at once: the time from its
//       ACCEPT to the TASK_RUNNING update reaching it (the master's share)
//   BM_AcceptToRunning/real_agent:1  the same on a real berth-agent, container
//       launch included (root; skipped with an error otherwise)
//   BM_Throughput  100 simulated frameworks launching on 100 simulated agents
//       that finish every task at once: offers and status updates per second
//       reaching the frameworks
//   BM_IdleAgentMemory  the master's resident memory per registered, idle agent
//
//   build/bench/berth_master_bench [--benchmark_filter=...]
//   BERTH_BENCH_SAMPLES=1 also prints every latency sample.

#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>

#include "berth/common/resources.hpp"
#include "berth/common/task_state.hpp"
#include "support/sim.hpp"
#include "support/cluster.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace berth;
using namespace berth::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;


// A berth-master of the build, on a free port, stopped at the end.
class MasterProcess {
 public:
  explicit MasterProcess(const std::vector<std::string>& flags = {}) : port_(testing::free_port()) {
    std::vector<std::string> argv{testing::bin("berth-master").string(), "--port=" + std::to_string(port_),
                                  "--logging_level=warn"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_ = testing::Process::spawn(argv, dir_ / "master.log");
    if (!testing::wait_until([&] { return testing::listens_on(process_.pid(), port_); }, 10s)) {
      throw std::runtime_error("berth-master did not start:\n" + testing::read_file(dir_ / "master.log"));
    }
  }
  http::Endpoint endpoint() const { return {"127.0.0.1", port_}; }
  pid_t pid() const { return process_.pid(); }

 private:
  testing::TempDir dir_;
  std::uint16_t port_;
  testing::Process process_;
};

// A master for a benchmark case, or none (and the case marked failed).
std::optional<MasterProcess> start_master(benchmark::State& state, const std::vector<std::string>& flags = {}) {
  try {
    return std::make_optional<MasterProcess>(flags);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return std::nullopt;
  }
}

std::uint64_t resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::ranges::sort(values);
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

struct Latencies {
  std::vector<double> samples;  // ms
  bool complete = false;
};

Latencies measure_latency(int launches, bool real_agent) {
  std::optional<testing::Cluster> cluster;
  std::optional<MasterProcess> master;
  http::Endpoint endpoint;
  asio::io_context io;
  std::optional<SimAgent> agent;
  if (real_agent) {
    cluster.emplace();
    cluster->start_master();
    cluster->start_agent();
    if (!cluster->wait_for_agent(20s)) throw std::runtime_error("agent did not register:\n" + cluster->agent_log());
    endpoint = {"127.0.0.1", cluster->master_port()};
  } else {
    master.emplace(std::vector<std::string>{"--allocation_interval=1"});
    endpoint = master->endpoint();
    agent.emplace(io.get_executor(), endpoint, "sim-agent", "cpus:4;mem:4096", true);
    asio::co_spawn(io, agent->run(), asio::detached);
  }
  std::map<std::string, Clock::time_point> launched;
  std::vector<double> samples;
  bool outstanding = false;
  int next = 0;
  SimFramework framework(
      io.get_executor(), endpoint, "latency",
      [&](const v1::Offer& offer) -> std::vector<v1::TaskInfo> {
        if (outstanding || static_cast<int>(samples.size()) >= launches) return {};
        outstanding = true;
        auto id = fmt::format("t{}", next++);
        launched[id] = Clock::now();
        return {sim_task(offer, id, "cpus:0.1;mem:32")};
      },
      [&](const v1::TaskStatus& status, Clock::time_point at) {
        auto it = launched.find(status.task_id().value());
        if (it == launched.end()) return;
        if (status.state() == v1::TASK_RUNNING) {
          samples.push_back(std::chrono::duration<double, std::milli>(at - it->second).count());
        }
        if (is_terminal(status.state())) {
          launched.erase(it);
          outstanding = false;
        }
      });
  asio::co_spawn(io, framework.run(), asio::detached);
  bool done = run_until(io, [&] { return static_cast<int>(samples.size()) >= launches; }, 600s);
  framework.close();
  if (agent) agent->close();
  io.run_for(100ms);
  return {std::move(samples), done};
}

void BM_AcceptToRunning(benchmark::State& state) {
  bool real_agent = state.range(0) != 0;
  auto launches = static_cast<int>(state.range(1));
  if (real_agent && ::geteuid() != 0) {
    state.SkipWithError("needs root: a real berth-agent creates cgroups and namespaces");
    return;
  }
  Latencies result;
  try {
    for (auto _ : state) result = measure_latency(launches, real_agent);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (!result.complete) state.SkipWithError(fmt::format("only {} launches completed", result.samples.size()).c_str());
  if (std::getenv("BERTH_BENCH_SAMPLES") != nullptr) {
    for (double sample : result.samples) std::printf("%.2f ", sample);
    std::printf("\n");
  }
  state.counters["launches"] = static_cast<double>(result.samples.size());
  state.counters["p50_ms"] = percentile(result.samples, 0.5);
  state.counters["p90_ms"] = percentile(result.samples, 0.9);
  state.counters["p99_ms"] = percentile(result.samples, 0.99);
  state.counters["max_ms"] = percentile(result.samples, 1.0);
}
BENCHMARK(BM_AcceptToRunning)
    ->ArgNames({"real_agent", "launches"})
    ->Args({0, 2000})
    ->Args({1, 500})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Throughput(benchmark::State& state) {
  auto framework_count = static_cast<int>(state.range(0));
  auto agent_count = static_cast<int>(state.range(1));
  auto seconds = static_cast<double>(state.range(2));
  auto master = start_master(state, {"--allocation_interval=0.1"});
  if (!master) return;
  asio::io_context io;
  std::vector<std::unique_ptr<SimAgent>> agents;
  for (int i = 0; i < agent_count; ++i) {
    agents.push_back(std::make_unique<SimAgent>(io.get_executor(), master->endpoint(), fmt::format("sim-{}", i),
                                                "cpus:8;mem:16384", true));
    asio::co_spawn(io, agents.back()->run(), asio::detached);
  }
  run_until(io, [&] { return std::ranges::all_of(agents, [](const auto& a) { return a->registered(); }); }, 60s);
  std::vector<std::unique_ptr<SimFramework>> frameworks;
  std::size_t counter = 0;
  for (int f = 0; f < framework_count; ++f) {
    frameworks.push_back(std::make_unique<SimFramework>(
        io.get_executor(), master->endpoint(), fmt::format("fw-{}", f),
        [&](const v1::Offer& offer) {
          // As many small tasks as the offer holds.
          auto offered = Resources::from_proto(offer.resources()).value_or(Resources{});
          auto count = static_cast<int>(std::min(offered.cpus() / 0.5, offered.mem_mb() / 64));
          std::vector<v1::TaskInfo> tasks;
          for (int i = 0; i < count; ++i) tasks.push_back(sim_task(offer, fmt::format("t{}", counter++), "cpus:0.5;mem:64"));
          return tasks;
        },
        nullptr));
    asio::co_spawn(io, frameworks.back()->run(), asio::detached);
  }
  run_until(io, [&] { return std::ranges::all_of(frameworks, [](const auto& f) { return f->subscribed(); }); }, 60s);
  auto count = [&] {
    std::pair<std::size_t, std::size_t> sums;
    for (const auto& f : frameworks) {
      sums.first += f->offers();
      sums.second += f->updates();
    }
    return sums;
  };
  std::pair<std::size_t, std::size_t> before;
  std::pair<std::size_t, std::size_t> after;
  double elapsed = 0;
  for (auto _ : state) {
    before = count();
    auto started = Clock::now();
    io.run_for(std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000)));
    elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    after = count();
  }
  for (auto& f : frameworks) f->close();
  for (auto& a : agents) a->close();
  io.run_for(200ms);
  state.counters["offers_per_s"] = static_cast<double>(after.first - before.first) / elapsed;
  state.counters["updates_per_s"] = static_cast<double>(after.second - before.second) / elapsed;
}
BENCHMARK(BM_Throughput)
    ->ArgNames({"frameworks", "agents", "seconds"})
    ->Args({100, 100, 10})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

void BM_IdleAgentMemory(benchmark::State& state) {
  auto count = static_cast<int>(state.range(0));
  auto master = start_master(state);
  if (!master) return;
  asio::io_context io;
  auto before = resident_bytes(master->pid());
  std::uint64_t after = 0;
  std::vector<std::unique_ptr<SimAgent>> agents;
  bool all = false;
  for (auto _ : state) {
    for (int i = 0; i < count; ++i) {
      agents.push_back(std::make_unique<SimAgent>(io.get_executor(), master->endpoint(), fmt::format("idle-{:05}", i),
                                                  "cpus:16;mem:65536;disk:1000000;ports:[31000-32000]", false));
      asio::co_spawn(io, agents.back()->run(), asio::detached);
      if (i % 500 == 499) io.run_for(50ms);  // a burst at a time
    }
    all = run_until(
        io, [&] { return std::ranges::all_of(agents, [](const auto& a) { return a->registered(); }); }, 300s);
    io.run_for(2s);  // settle: a few heartbeats
    after = resident_bytes(master->pid());
  }
  for (auto& a : agents) a->close();
  io.run_for(500ms);
  if (!all) state.SkipWithError("not every agent registered");
  state.counters["agents"] = count;
  state.counters["rss_before_MiB"] = static_cast<double>(before) / (1 << 20);
  state.counters["rss_after_MiB"] = static_cast<double>(after) / (1 << 20);
  state.counters["bytes_per_agent"] = static_cast<double>(after - before) / count;
}
BENCHMARK(BM_IdleAgentMemory)->ArgName("agents")->Arg(10'000)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;  // the hard limit: thousands of connections
  ::setrlimit(RLIMIT_NOFILE, &files);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
