#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace berth::master {

struct Flags {
  std::string ip = "127.0.0.1";
  std::uint16_t port = 5050;
  std::string hostname;                       // advertised; defaults to the machine's
  std::string work_dir;                       // role weights and quotas, the admitted agents
  double allocation_interval = 1.0;           // seconds between batch allocations
  double heartbeat_interval = 15.0;           // seconds between HEARTBEAT events
  double agent_ping_timeout = 15.0;           // seconds without a heartbeat that count as one missed
  std::size_t max_agent_ping_timeouts = 5;    // missed ones before the agent is unreachable
  double registry_max_agent_age = 14 * 86400.0;  // seconds an unreachable agent is remembered
  double agent_reregister_timeout = 600;      // seconds a restarted master waits for its agents
  double offer_timeout = 0;                   // seconds before an unused offer is rescinded; 0 = never
  std::string weights;                        // "role=weight,..." (also PUT /weights)
  std::string zk;                             // zk://host:port,.../path: elect a leader among masters
  double zk_session_timeout = 10.0;           // seconds
  std::size_t max_request_bytes = 4 << 20;
  std::size_t max_event_stream_bytes = 64 << 20;  // unread events a subscriber may leave before it is cut off
  std::size_t max_completed_tasks = 1000;     // per framework, kept for /state
  std::string log_level = "info";
};

// Registers every master flag on `app` (Mesos names), with BERTH_<FLAG> env fallbacks.
void add_flags(CLI::App& app, Flags& flags);

// GET /flags: {"flags": {"name": "value", ...}} as Mesos answers it.
std::string flags_json(const Flags& flags);

}  // namespace berth::master
