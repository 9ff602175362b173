// One full allocation round of the master's hierarchical DRF allocator:
// every agent free, every framework wanting offers, frameworks spread over a
// two-level role tree (10 top-level roles with 10 subroles each, some
// weighted, one with a quota guarantee and one with a limit). This is what
// Mesos's allocator benchmarks time (its best published figure for 10,000
// agents and 1,000 frameworks is about 1.06 s per round).
//
// After each timed round the allocations are given back untimed, so every
// round starts from the same free cluster. No root needed.
//
//   build/bench/berth_allocator_bench

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <malloc.h>

#include <string>

#include "berth/master/allocator.hpp"

namespace {

using berth::ResourcePools;
using berth::Resources;
using berth::master::Allocation;
using berth::master::Allocator;

const ResourcePools& agent_resources() {
  static const auto pools =
      ResourcePools::parse("cpus:16;mem:65536;disk:1000000;ports:[31000-32000]").value();
  return pools;
}

std::string role_of(int framework) { return fmt::format("team{}/app{}", framework % 10, (framework / 10) % 10); }

void build(Allocator& allocator, int agents, int frameworks) {
  for (int i = 0; i < agents; ++i) allocator.add_agent(fmt::format("agent-{:06}", i), agent_resources());
  for (int f = 0; f < frameworks; ++f) allocator.add_framework(fmt::format("framework-{:05}", f), {role_of(f)});
  (void)allocator.set_weight("team1", 2);
  (void)allocator.set_weight("team2/app3", 3);
  (void)allocator.set_quota("team3", {Resources::parse("cpus:1600;mem:6553600").value(), {}});
  (void)allocator.set_quota("team4", {{}, Resources::parse("cpus:8000").value()});
}

void BM_AllocationRound(benchmark::State& state) {
  auto agents = static_cast<int>(state.range(0));
  auto frameworks = static_cast<int>(state.range(1));
  Allocator allocator;
  build(allocator, agents, frameworks);
  std::size_t offers = 0;
  for (auto _ : state) {
    auto allocations = allocator.allocate();
    state.PauseTiming();
    offers = allocations.size();
    for (const auto& a : allocations) allocator.recover(a.framework_id, a.role, a.agent_id, a.resources);
    state.ResumeTiming();
  }
  state.counters["offers"] = static_cast<double>(offers);
  state.counters["agents"] = agents;
  state.counters["frameworks"] = frameworks;
}
BENCHMARK(BM_AllocationRound)
    ->Args({1'000, 100})
    ->Args({10'000, 1'000})
    ->Args({50'000, 5'000})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2);

// A round when nothing is free: what the master's periodic round costs in
// a busy cluster between task launches.
void BM_RoundWithNothingFree(benchmark::State& state) {
  Allocator allocator;
  build(allocator, 10'000, 1'000);
  allocator.allocate();  // everything allocated
  for (auto _ : state) benchmark::DoNotOptimize(allocator.allocate());
}
BENCHMARK(BM_RoundWithNothingFree)->Unit(benchmark::kMillisecond);

// The allocator's memory for an idle agent (registered, nothing allocated).
void BM_IdleAgentMemory(benchmark::State& state) {
  for (auto _ : state) {
    auto before = mallinfo2().uordblks;
    {
      Allocator allocator;
      for (int i = 0; i < 10'000; ++i) allocator.add_agent(fmt::format("agent-{:06}", i), agent_resources());
      state.counters["bytes_per_agent"] = static_cast<double>(mallinfo2().uordblks - before) / 10'000;
    }
  }
}
BENCHMARK(BM_IdleAgentMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
