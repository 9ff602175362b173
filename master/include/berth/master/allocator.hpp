#pragma once
// Dominant Resource Fairness over frameworks (Ghodsi et al., NSDI 2011): each
// agent's free resources are offered to the eligible framework whose dominant
// share of the cluster is lowest, and that grant counts toward its share.

#include <set>
#include <string>
#include <vector>

#include "berth/common/resources.hpp"

namespace berth::master {

struct AllocationCandidate {
  std::string framework_id;
  Resources allocated;                   // running tasks plus outstanding offers
  std::set<std::string> filtered_agents; // agents this framework declined recently
};

struct AgentAvailable {
  std::string agent_id;
  Resources available;
};

struct Grant {
  std::string agent_id;
  std::string framework_id;
  Resources resources;
};

double dominant_share(const Resources& allocated, const Resources& cluster_total);

std::vector<Grant> allocate(const Resources& cluster_total, const std::vector<AgentAvailable>& agents,
                            std::vector<AllocationCandidate> frameworks);

}  // namespace berth::master
