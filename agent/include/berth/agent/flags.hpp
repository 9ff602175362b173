#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace berth::agent {

struct Flags {
  std::string master;                       // host:port of the master
  std::string ip = "127.0.0.1";
  std::uint16_t port = 5051;
  std::string hostname;                     // advertised; defaults to the machine's
  std::string work_dir;                     // required
  std::string resources;                    // "cpus:4;mem:8192;ports:[31000-32000]" or JSON; overrides detection
  std::string cgroups_root;                 // default: <cgroup2 mount>/berth
  std::string recover = "reconnect";        // reconnect | cleanup
  double registration_backoff_factor = 1.0; // seconds; doubled on each failed attempt, up to 60 s
  double heartbeat_interval = 15.0;         // seconds between HEARTBEAT calls to the master
  double kill_grace_period = 3.0;           // SIGTERM -> SIGKILL delay when a kill policy gives none
  double status_update_retry_interval = 10.0;  // seconds before an unacknowledged update is resent
  std::size_t max_request_bytes = 1 << 20;
  std::string log_level = "info";
};

void add_flags(CLI::App& app, Flags& flags);

}  // namespace berth::agent
