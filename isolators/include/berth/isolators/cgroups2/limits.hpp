#pragma once
// What a container's cgroup enforces, decided by the agent from the task's
// resources (Mesos semantics: a request, and optionally a limit above it) and
// applied by one controller per kernel controller (cpu.hpp, memory.hpp, ...).
// A field left empty leaves the kernel's default ("max", no pinning).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::isolators::cgroups2 {

// io.max and io.weight for one block device, "MAJ:MIN".
struct DeviceIoLimits {
  std::optional<std::uint64_t> read_bps = {};
  std::optional<std::uint64_t> write_bps = {};
  std::optional<std::uint64_t> read_iops = {};
  std::optional<std::uint64_t> write_iops = {};
  std::optional<std::uint32_t> weight = {};  // 1-10000, io.weight "MAJ:MIN W"
};

// One rule of the device filter (an eBPF cgroup device program): deny by
// default, then these, first match wins.
struct DeviceRule {
  char type = 'a';          // 'c' char, 'b' block, 'a' any
  std::int64_t major = -1;  // -1: any
  std::int64_t minor = -1;  // -1: any
  std::string access = "rwm";  // subset of "rwm"
  bool allow = true;
};

struct Limits {
  // cpu: cpu.weight from the request (1 cpu = weight 100, the default), and
  // cpu.max = quota/period from the limit (or from the request when CFS
  // quotas are on and no limit is given).
  double cpus = 0;                     // request; 0: no weight set
  std::optional<double> cpus_limit = {};    // above the request; infinity: no quota
  bool cpu_quota_from_request = true;  // --cgroups_enable_cfs
  std::uint64_t cpu_period_us = 100'000;

  // memory: memory.max from the limit (default: the request), memory.low
  // protects the request when the limit is higher, memory.high throttles
  // before the hard limit when set, memory.swap.max (0: no swap).
  std::uint64_t mem_bytes = 0;                  // request; 0: no limit
  std::optional<std::uint64_t> mem_limit = {};       // above the request; UINT64_MAX: unlimited
  std::optional<std::uint64_t> mem_high = {};        // memory.high
  std::optional<std::uint64_t> swap_max_bytes = {};  // memory.swap.max; empty: kernel default

  std::optional<std::uint64_t> pids_max = {};  // pids.max

  std::map<std::string, DeviceIoLimits> io = {};  // keyed by "MAJ:MIN"
  std::optional<std::uint32_t> io_weight = {};    // io.weight "default W"

  std::optional<std::string> cpuset_cpus = {};  // "0-3,6"
  std::optional<std::string> cpuset_mems = {};  // "0"

  std::map<std::string, std::uint64_t> hugetlb = {};  // page size ("2MB", "1GB") -> bytes, hugetlb.<size>.max

  // Devices beyond the standard container ones (null, zero, full, random,
  // urandom, tty, console, ptmx, pts/*) the task may use.
  std::vector<DeviceRule> devices = {};
};

}  // namespace berth::isolators::cgroups2
