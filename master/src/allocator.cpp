#include "berth/master/allocator.hpp"

#include <algorithm>

namespace berth::master {

double dominant_share(const Resources& allocated, const Resources& cluster_total) {
  double share = 0;
  for (const char* name : {"cpus", "mem", "disk", "gpus"}) {
    auto total = cluster_total.scalar(name).value_or(0);
    if (total <= 0) continue;
    share = std::max(share, allocated.scalar(name).value_or(0) / total);
  }
  return share;
}

std::vector<Grant> allocate(const Resources& cluster_total, const std::vector<AgentAvailable>& agents,
                            std::vector<AllocationCandidate> frameworks) {
  std::vector<Grant> grants;
  for (const auto& agent : agents) {
    if (agent.available.empty()) continue;
    AllocationCandidate* best = nullptr;
    double best_share = 0;
    for (auto& framework : frameworks) {
      if (framework.filtered_agents.contains(agent.agent_id)) continue;
      double share = dominant_share(framework.allocated, cluster_total);
      if (!best || share < best_share ||
          (share == best_share && framework.framework_id < best->framework_id)) {
        best = &framework;
        best_share = share;
      }
    }
    if (!best) continue;
    best->allocated += agent.available;
    grants.push_back({agent.agent_id, best->framework_id, agent.available});
  }
  return grants;
}

}  // namespace berth::master
