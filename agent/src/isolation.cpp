#include "berth/agent/isolation.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace berth::agent {

namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kIsolators{{
    {"cgroups/cpu", "cpu"},
    {"cgroups/mem", "memory"},
    {"cgroups/pids", "pids"},
    {"cgroups/io", "io"},
    {"cgroups/blkio", "io"},  // Mesos's name, from cgroup v1
    {"cgroups/cpuset", "cpuset"},
    {"cgroups/hugetlb", "hugetlb"},
    {"cgroups/devices", "devices"},
}};

constexpr std::string_view kNetwork = "network/bridge";

std::string known() {
  std::string names;
  for (const auto& [name, controller] : kIsolators) names += (names.empty() ? "" : ", ") + std::string(name);
  return names + ", " + std::string(kNetwork);
}

std::vector<std::string_view> names_in(std::string_view isolation) {
  std::vector<std::string_view> names;
  while (!isolation.empty()) {
    auto comma = isolation.find(',');
    auto name = isolation.substr(0, comma);
    isolation = comma == std::string_view::npos ? std::string_view() : isolation.substr(comma + 1);
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

}  // namespace

Result<std::vector<std::string>> cgroup_controllers_for(std::string_view isolation) {
  std::vector<std::string> controllers;
  for (auto name : names_in(isolation)) {
    if (name == kNetwork) continue;
    auto it = std::ranges::find(kIsolators, name, &std::pair<std::string_view, std::string_view>::first);
    if (it == kIsolators.end()) {
      return fail("--isolation: unknown isolator '" + std::string(name) + "' (known: " + known() + ")");
    }
    if (std::ranges::find(controllers, it->second) == controllers.end()) controllers.emplace_back(it->second);
  }
  return controllers;
}

bool network_isolation(std::string_view isolation) {
  auto names = names_in(isolation);
  return std::ranges::find(names, kNetwork) != names.end();
}

}  // namespace berth::agent
