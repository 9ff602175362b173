#include "berth/agent/resources_detect.hpp"

#include <set>

#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace berth::agent {

Result<HostFacts> probe_host(const std::filesystem::path& work_dir) {
  HostFacts facts;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    facts.cpus = CPU_COUNT(&set);
  } else {
    facts.cpus = static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN));
  }
  double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  facts.mem_mb = std::floor(static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * page / (1 << 20));
  struct statvfs fs {};
  if (::statvfs(work_dir.c_str(), &fs) != 0) return fail_sys("statvfs", work_dir);
  facts.disk_mb = std::floor(static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize) / (1 << 20));
  return facts;
}

Resources default_resources(const HostFacts& facts) {
  // Leave the system 1 GiB of memory and 5 GiB of disk, or half when the host is small.
  double mem = facts.mem_mb - std::min(1024.0, facts.mem_mb / 2);
  double disk = facts.disk_mb - std::min(5120.0, facts.disk_mb / 2);
  auto text = "cpus:" + std::to_string(facts.cpus) + ";mem:" + std::to_string(std::floor(mem)) +
              ";disk:" + std::to_string(std::floor(disk)) + ";ports:[31000-32000]";
  return Resources::parse(text).value();
}

Result<ResourcePools> agent_resources(const HostFacts& facts, std::string_view flag) {
  auto defaults = default_resources(facts);
  if (flag.empty()) return ResourcePools(defaults);
  auto first = flag.find_first_not_of(" \t\n");
  bool json = first != std::string_view::npos && flag[first] == '[';
  auto given = json ? ResourcePools::parse_json(flag) : ResourcePools::parse(flag);
  if (!given) return fail(given.error().context("--resources"));
  // A name given in any role replaces the detected amount of it.
  std::set<std::string> named;
  for (const auto& [role, pool] : given->pools()) {
    for (const auto& resource : pool.to_proto()) named.insert(resource.name());
  }
  google::protobuf::RepeatedPtrField<mesos::v1::Resource> kept;
  for (const auto& resource : defaults.to_proto()) {
    if (!named.contains(resource.name())) *kept.Add() = resource;
  }
  BERTH_TRY(auto detected, Resources::from_proto(kept));
  return ResourcePools(detected) + *given;
}

}  // namespace berth::agent
