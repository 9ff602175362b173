#pragma once
// A container's resource usage as its cgroup reports it, in base units
// (seconds as microseconds, bytes), for the agent's /containers (Mesos's
// /monitor/statistics) and /metrics. A controller the cgroup does not have
// leaves its fields empty.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace berth::isolators::cgroups2 {

// A *.pressure file: "some" and "full" lines (PSI), averages in percent.
struct PressureStall {
  double some_avg10 = 0, some_avg60 = 0, some_avg300 = 0;
  std::uint64_t some_total_us = 0;
  double full_avg10 = 0, full_avg60 = 0, full_avg300 = 0;
  std::uint64_t full_total_us = 0;  // cpu.pressure has a "full" line since 5.13
};

// io.stat for one device.
struct DeviceIoStat {
  std::uint64_t read_bytes = 0, write_bytes = 0;
  std::uint64_t read_ios = 0, write_ios = 0;
  std::uint64_t discard_bytes = 0, discard_ios = 0;
};

struct Statistics {
  // cpu.stat (present even without the cpu controller: usage, user, system).
  std::uint64_t cpu_usage_us = 0, cpu_user_us = 0, cpu_system_us = 0;
  std::optional<std::uint64_t> cpu_periods, cpu_throttled_periods, cpu_throttled_us;

  // memory.current, memory.peak, memory.stat (anon, file, kernel), memory.events.
  std::optional<std::uint64_t> memory_current, memory_peak;
  std::optional<std::uint64_t> memory_anon, memory_file, memory_kernel;
  std::optional<std::uint64_t> memory_oom, memory_oom_kill, memory_high_events, memory_max_events;

  std::optional<std::uint64_t> pids_current;
  std::optional<std::uint64_t> pids_max_events;  // pids.events "max": forks refused

  std::map<std::string, DeviceIoStat> io;  // keyed by "MAJ:MIN"

  std::optional<PressureStall> cpu_pressure, memory_pressure, io_pressure;
};

}  // namespace berth::isolators::cgroups2
