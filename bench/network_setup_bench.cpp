// What a container's network costs at launch and at removal: the network
// isolator's prepare (namespace, veth pair, address, route, NAT mapping,
// token buckets) and cleanup, in bridge and none modes, with the namespace
// made on the launch path or taken ready-made (as the agent's pool hands
// them out). The peer, in the same run: the CNI reference plugins
// (containernetworking-plugins), `bridge` with `host-local` IPAM and IP
// masquerade, as Kubernetes and Mesos's CNI isolator run them, ADD and DEL
// on the same kind of namespace. Runs in a network namespace of its own: the
// machine's network is not touched. Needs root.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>

#include "berth/common/netns.hpp"
#include "berth/isolators/network.hpp"

namespace {

using namespace berth;
using isolators::NetworkMode;
using isolators::TaskNetwork;

struct Host {
  std::filesystem::path state;
  UniqueFd home;
  std::deque<UniqueFd> ready;  // namespaces made ahead, for the "pooled" runs
  std::unique_ptr<isolators::NetworkIsolator> isolator;
  int next = 0;
};

Host* host = nullptr;

Result<UniqueFd> take_namespace() {
  if (!host->ready.empty()) {
    auto fd = std::move(host->ready.front());
    host->ready.pop_front();
    return fd;
  }
  return netns::make(host->home.get());
}

// time_cleanup: the cleanup call (what the agent's event loop spends), and
// with settle also the deletion of the host end on the isolator's thread.
void run(benchmark::State& state, TaskNetwork network, bool pooled, bool time_cleanup, bool settle = false) {
  for (auto _ : state) {
    auto id = "c" + std::to_string(host->next++);
    state.PauseTiming();
    if (pooled) host->ready.push_back(netns::make(host->home.get()).value());
    if (time_cleanup) {
      if (!host->isolator->prepare({.container_id = id, .network = network})) state.SkipWithError("prepare");
      (void)host->isolator->isolate(id, 1);
      state.ResumeTiming();
      if (!host->isolator->cleanup(id)) state.SkipWithError("cleanup");
      if (settle) host->isolator->settle();
      continue;
    }
    state.ResumeTiming();
    auto info = host->isolator->prepare({.container_id = id, .network = network});
    if (!info) state.SkipWithError(info.error().what().c_str());
    (void)host->isolator->isolate(id, 1);
    state.PauseTiming();
    (void)host->isolator->cleanup(id);
    host->isolator->settle();
    state.ResumeTiming();
  }
}

void BM_NamespaceOnly(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(netns::make(host->home.get()));
}
void BM_PrepareNone(benchmark::State& state) { run(state, {.mode = NetworkMode::none}, state.range(0), false); }
void BM_PrepareBridge(benchmark::State& state) { run(state, {.mode = NetworkMode::bridge}, state.range(0), false); }
void BM_PrepareBridgeMappedLimited(benchmark::State& state) {
  run(state,
      {.mode = NetworkMode::bridge,
       .ports = {{8080, 80, isolators::network::Protocol::tcp}},
       .egress_rate = 10 << 20,
       .ingress_rate = 10 << 20},
      state.range(0), false);
}
void BM_CleanupBridge(benchmark::State& state) {
  run(state, {.mode = NetworkMode::bridge}, true, true, state.range(0));
}
void BM_CleanupBridgeMappedLimited(benchmark::State& state) {
  run(state,
      {.mode = NetworkMode::bridge,
       .ports = {{8080, 80, isolators::network::Protocol::tcp}},
       .egress_rate = 10 << 20,
       .ingress_rate = 10 << 20},
      true, true, state.range(0));
}

// One CNI plugin call: the config on stdin, the rest in the environment.
bool cni(const char* command, const std::string& id, int netns) {
  static const char* plugin = "/usr/lib/cni/bridge";
  auto config = R"({"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cni0","isGateway":true,)"
                R"("ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.77.0.0/16"}]],"dataDir":")" +
                (host->state / "cni-ipam").string() + R"("}})";
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  std::vector<std::string> env{"CNI_COMMAND=" + std::string(command), "CNI_CONTAINERID=" + id,
                               "CNI_NETNS=/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(netns),
                               "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  char* argv[] = {const_cast<char*>(plugin), nullptr};
  pid_t pid = -1;
  int spawned = ::posix_spawn(&pid, plugin, &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  if (spawned == 0) (void)!::write(in[1], config.data(), config.size());
  ::close(in[1]);
  int status = 0;
  if (spawned != 0 || ::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void BM_PeerCniBridgeAdd(benchmark::State& state) {
  if (::access("/usr/lib/cni/bridge", X_OK) != 0) return state.SkipWithError("no /usr/lib/cni/bridge");
  for (auto _ : state) {
    auto id = "p" + std::to_string(host->next++);
    state.PauseTiming();
    auto fd = netns::make(host->home.get()).value();
    state.ResumeTiming();
    if (!cni("ADD", id, fd.get())) state.SkipWithError("CNI ADD failed");
    state.PauseTiming();
    cni("DEL", id, fd.get());
    state.ResumeTiming();
  }
}

void BM_PeerCniBridgeDel(benchmark::State& state) {
  if (::access("/usr/lib/cni/bridge", X_OK) != 0) return state.SkipWithError("no /usr/lib/cni/bridge");
  for (auto _ : state) {
    auto id = "p" + std::to_string(host->next++);
    state.PauseTiming();
    auto fd = netns::make(host->home.get()).value();
    if (!cni("ADD", id, fd.get())) state.SkipWithError("CNI ADD failed");
    state.ResumeTiming();
    if (!cni("DEL", id, fd.get())) state.SkipWithError("CNI DEL failed");
  }
}

BENCHMARK(BM_NamespaceOnly)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_PrepareNone)->ArgName("pooled")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_PrepareBridge)->ArgName("pooled")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_PrepareBridgeMappedLimited)->ArgName("pooled")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CleanupBridge)->ArgName("settled")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(200);
BENCHMARK(BM_CleanupBridgeMappedLimited)->ArgName("settled")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(200);
BENCHMARK(BM_PeerCniBridgeAdd)->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(200);
BENCHMARK(BM_PeerCniBridgeDel)->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(200);

}  // namespace

int main(int argc, char** argv) {
  if (::unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "a network namespace of its own (needs root): %s\n", std::strerror(errno));
    return 1;
  }
  char dir[] = "/tmp/berth-network-bench-XXXXXX";
  if (!::mkdtemp(dir)) return 1;
  Host state{.state = dir, .home = netns::current().value(), .ready = {}, .isolator = nullptr};
  host = &state;
  isolators::NetworkOptions options{.state_dir = state.state / "network",
                                    .bridge = "berth0",
                                    .subnet = *isolators::network::Ipv4Cidr::parse("10.88.0.0/16"),
                                    .make_namespace = take_namespace};
  auto made = isolators::NetworkIsolator::create(options);
  if (!made) {
    std::fprintf(stderr, "%s\n", made.error().what().c_str());
    return 1;
  }
  state.isolator = std::move(*made);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  state.isolator.reset();
  std::filesystem::remove_all(state.state);
  return 0;
}
