#include "berth/agent/container_statistics.hpp"

#include <array>
#include <tuple>

#include <cmath>
#include <limits>

namespace berth::agent {
namespace json = boost::json;
using isolators::cgroups2::Limits;
using isolators::cgroups2::PressureStall;
using isolators::cgroups2::Statistics;

namespace {

double seconds(std::uint64_t microseconds) { return static_cast<double>(microseconds) / 1e6; }

template <typename T>
void put(json::object& out, const char* key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}

json::object pressure_json(const PressureStall& p) {
  return {{"some_avg10", p.some_avg10},       {"some_avg60", p.some_avg60},
          {"some_avg300", p.some_avg300},     {"some_total_secs", seconds(p.some_total_us)},
          {"full_avg10", p.full_avg10},       {"full_avg60", p.full_avg60},
          {"full_avg300", p.full_avg300},     {"full_total_secs", seconds(p.full_total_us)}};
}

// The cpus the cgroup lets the container use: the limit, else the request
// when CFS quotas come from requests; nothing for an unlimited container.
std::optional<double> cpus_limit(const Limits& limits) {
  if (limits.cpus_limit) {
    if (std::isinf(*limits.cpus_limit)) return std::nullopt;
    return *limits.cpus_limit;
  }
  if (limits.cpu_quota_from_request && limits.cpus > 0) return limits.cpus;
  return std::nullopt;
}

std::optional<std::uint64_t> mem_limit_bytes(const Limits& limits) {
  if (limits.mem_limit) {
    if (*limits.mem_limit == std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
    return *limits.mem_limit;
  }
  if (limits.mem_bytes > 0) return limits.mem_bytes;
  return std::nullopt;
}

}  // namespace

json::object statistics_json(const Statistics& s, const Limits& limits, double timestamp) {
  json::object out{{"timestamp", timestamp},
                   {"cpus_user_time_secs", seconds(s.cpu_user_us)},
                   {"cpus_system_time_secs", seconds(s.cpu_system_us)},
                   {"cpus_usage_time_secs", seconds(s.cpu_usage_us)}};
  put(out, "cpus_limit", cpus_limit(limits));
  put(out, "cpus_nr_periods", s.cpu_periods);
  put(out, "cpus_nr_throttled", s.cpu_throttled_periods);
  if (s.cpu_throttled_us) out["cpus_throttled_time_secs"] = seconds(*s.cpu_throttled_us);
  put(out, "mem_limit_bytes", mem_limit_bytes(limits));
  put(out, "mem_total_bytes", s.memory_current);
  put(out, "mem_max_bytes", s.memory_peak);
  put(out, "mem_anon_bytes", s.memory_anon);
  put(out, "mem_rss_bytes", s.memory_anon);
  put(out, "mem_file_bytes", s.memory_file);
  put(out, "mem_cache_bytes", s.memory_file);
  put(out, "mem_kmem_usage_bytes", s.memory_kernel);
  put(out, "mem_oom_events", s.memory_oom);
  put(out, "mem_oom_kill_events", s.memory_oom_kill);
  put(out, "processes", s.pids_current);
  put(out, "pids_max_events", s.pids_max_events);
  if (!s.io.empty()) {
    json::array io;
    for (const auto& [device, stat] : s.io) {
      io.push_back(json::object{{"device", device},
                                {"read_bytes", stat.read_bytes},
                                {"write_bytes", stat.write_bytes},
                                {"read_ops", stat.read_ios},
                                {"write_ops", stat.write_ios},
                                {"discard_bytes", stat.discard_bytes},
                                {"discard_ops", stat.discard_ios}});
    }
    out["io_statistics"] = std::move(io);
  }
  for (auto [key, pressure] : {std::pair{"cpu_pressure", &s.cpu_pressure}, std::pair{"mem_pressure", &s.memory_pressure},
                               std::pair{"io_pressure", &s.io_pressure}}) {
    if (*pressure) out[key] = pressure_json(**pressure);
  }
  return out;
}

void describe_container_metrics(metrics::Registry& r) {
  r.describe("berth_container_cpu_usage_seconds_total", "counter", "CPU time used by the container");
  r.describe("berth_container_cpu_user_seconds_total", "counter", "CPU time used in user mode");
  r.describe("berth_container_cpu_system_seconds_total", "counter", "CPU time used in kernel mode");
  r.describe("berth_container_cpu_periods_total", "counter", "CFS periods that elapsed while it could run");
  r.describe("berth_container_cpu_throttled_periods_total", "counter", "CFS periods in which it was throttled");
  r.describe("berth_container_cpu_throttled_seconds_total", "counter", "Time it was throttled for");
  r.describe("berth_container_memory_usage_bytes", "gauge", "Memory charged to it (memory.current)");
  r.describe("berth_container_memory_peak_bytes", "gauge", "Highest memory.current seen");
  r.describe("berth_container_memory_anon_bytes", "gauge", "Anonymous memory");
  r.describe("berth_container_memory_file_bytes", "gauge", "Page cache");
  r.describe("berth_container_memory_kernel_bytes", "gauge", "Kernel memory");
  r.describe("berth_container_memory_oom_events_total", "counter", "Times its memory limit was hit (memory.events oom)");
  r.describe("berth_container_memory_oom_kills_total", "counter", "Processes of it killed by the OOM killer");
  r.describe("berth_container_pids", "gauge", "Processes and threads in it");
  r.describe("berth_container_pids_limit_hits_total", "counter", "Forks refused at pids.max");
  r.describe("berth_container_io_read_bytes_total", "counter", "Bytes read, by device");
  r.describe("berth_container_io_written_bytes_total", "counter", "Bytes written, by device");
  r.describe("berth_container_io_reads_total", "counter", "Read operations, by device");
  r.describe("berth_container_io_writes_total", "counter", "Write operations, by device");
  r.describe("berth_container_pressure_stalled_seconds_total", "counter",
             "Time some (or all) of its tasks stalled on a resource (PSI), by resource and kind");
  r.describe("berth_container_network_receive_bytes_total", "counter", "Bytes it received (its own network only)");
  r.describe("berth_container_network_receive_packets_total", "counter", "Packets it received");
  r.describe("berth_container_network_receive_dropped_total", "counter", "Packets to it that were dropped");
  r.describe("berth_container_network_transmit_bytes_total", "counter", "Bytes it sent");
  r.describe("berth_container_network_transmit_packets_total", "counter", "Packets it sent");
  r.describe("berth_container_network_transmit_dropped_total", "counter", "Packets from it that were dropped");
}

namespace {

// Mesos's ResourceStatistics names, and the metric of each.
constexpr std::array<std::tuple<const char*, const char*, std::optional<std::uint64_t> isolators::Usage::*>, 6>
    kNetworkCounters{{
        {"net_rx_bytes", "berth_container_network_receive_bytes_total", &isolators::Usage::net_rx_bytes},
        {"net_rx_packets", "berth_container_network_receive_packets_total", &isolators::Usage::net_rx_packets},
        {"net_rx_dropped", "berth_container_network_receive_dropped_total", &isolators::Usage::net_rx_dropped},
        {"net_tx_bytes", "berth_container_network_transmit_bytes_total", &isolators::Usage::net_tx_bytes},
        {"net_tx_packets", "berth_container_network_transmit_packets_total", &isolators::Usage::net_tx_packets},
        {"net_tx_dropped", "berth_container_network_transmit_dropped_total", &isolators::Usage::net_tx_dropped},
    }};

}  // namespace

void add_network_json(boost::json::object& statistics, const isolators::Usage& usage) {
  for (const auto& [key, metric, field] : kNetworkCounters) {
    if (const auto& value = usage.*field) statistics[key] = *value;
  }
}

void add_network_metrics(metrics::Registry& registry, const metrics::Labels& labels, const isolators::Usage& usage) {
  for (const auto& [key, metric, field] : kNetworkCounters) {
    if (const auto& value = usage.*field) registry.set(metric, labels, static_cast<double>(*value));
  }
}

void add_container_metrics(metrics::Registry& r, const metrics::Labels& labels, const Statistics& s) {
  auto set = [&](const char* name, auto value) { r.set(name, labels, static_cast<double>(value)); };
  auto set_optional = [&](const char* name, const auto& value) {
    if (value) set(name, *value);
  };
  r.set("berth_container_cpu_usage_seconds_total", labels, seconds(s.cpu_usage_us));
  r.set("berth_container_cpu_user_seconds_total", labels, seconds(s.cpu_user_us));
  r.set("berth_container_cpu_system_seconds_total", labels, seconds(s.cpu_system_us));
  set_optional("berth_container_cpu_periods_total", s.cpu_periods);
  set_optional("berth_container_cpu_throttled_periods_total", s.cpu_throttled_periods);
  if (s.cpu_throttled_us) r.set("berth_container_cpu_throttled_seconds_total", labels, seconds(*s.cpu_throttled_us));
  set_optional("berth_container_memory_usage_bytes", s.memory_current);
  set_optional("berth_container_memory_peak_bytes", s.memory_peak);
  set_optional("berth_container_memory_anon_bytes", s.memory_anon);
  set_optional("berth_container_memory_file_bytes", s.memory_file);
  set_optional("berth_container_memory_kernel_bytes", s.memory_kernel);
  set_optional("berth_container_memory_oom_events_total", s.memory_oom);
  set_optional("berth_container_memory_oom_kills_total", s.memory_oom_kill);
  set_optional("berth_container_pids", s.pids_current);
  set_optional("berth_container_pids_limit_hits_total", s.pids_max_events);
  for (const auto& [device, io] : s.io) {
    auto with_device = labels;
    with_device.emplace_back("device", device);
    r.set("berth_container_io_read_bytes_total", with_device, static_cast<double>(io.read_bytes));
    r.set("berth_container_io_written_bytes_total", with_device, static_cast<double>(io.write_bytes));
    r.set("berth_container_io_reads_total", with_device, static_cast<double>(io.read_ios));
    r.set("berth_container_io_writes_total", with_device, static_cast<double>(io.write_ios));
  }
  for (auto [resource, pressure] : {std::pair{"cpu", &s.cpu_pressure}, std::pair{"memory", &s.memory_pressure},
                                    std::pair{"io", &s.io_pressure}}) {
    if (!*pressure) continue;
    for (auto [kind, total] : {std::pair{"some", (*pressure)->some_total_us}, std::pair{"full", (*pressure)->full_total_us}}) {
      auto with_kind = labels;
      with_kind.emplace_back("resource", resource);
      with_kind.emplace_back("kind", kind);
      r.set("berth_container_pressure_stalled_seconds_total", with_kind, seconds(total));
    }
  }
}

}  // namespace berth::agent
