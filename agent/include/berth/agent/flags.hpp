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
  // Mesos-style isolators: cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/io
  // (or cgroups/blkio), cgroups/cpuset, cgroups/hugetlb, cgroups/devices;
  // network/bridge enables bridge and none networking (isolation.hpp).
  std::string isolation = "cgroups/cpu,cgroups/mem,cgroups/pids,cgroups/io,cgroups/devices";
  bool allow_missing_cgroup_controllers = false;  // run without a requested controller the kernel lacks
  bool cgroups_enable_cfs = true;           // cpu.max from the cpus request when a task sets no limit
  std::uint64_t cgroups_cpu_period_us = 100'000;  // the period of cpu.max
  bool cgroups_limit_swap = false;          // memory.swap.max = 0: the memory limit covers swap too
  std::uint64_t container_pids_max = 0;     // pids.max of every container; 0: none
  std::string image_store_dir;              // default: <work_dir>/images
  std::string docker_registry;              // default registry, or a directory of image archives (image_location.hpp)
  std::string insecure_registries;          // comma-separated host[:port] spoken to over plain HTTP
  std::string registry_ca_file;             // PEM of extra CAs for registries' TLS
  std::string docker_config;                // Docker config.json with registry credentials
  int image_pull_parallelism = 3;           // layers downloaded at once per pull
  std::string recover = "reconnect";        // reconnect | cleanup
  double registration_backoff_factor = 1.0; // seconds; doubled on each failed attempt, up to 60 s
  double heartbeat_interval = 15.0;         // seconds between HEARTBEAT calls to the master
  std::string seccomp_config_dir;           // seccomp profiles by name: <dir>/<name>.json (Docker/OCI JSON)
  std::string seccomp_profile_name;         // the agent's profile; empty: built-in default; "unconfined": none
  bool seccomp_allow_unconfined = false;    // tasks may ask for no seccomp filter
  bool switch_user = true;                  // run command tasks as their user (CommandInfo's, else the framework's)
  bool user_namespaces = false;             // every container in its own user namespace (a task may opt out)
  std::string user_namespace_ids = "100000:4194304";  // first:count of the host ids leased 65536 per container
  std::string network_bridge = "berth0";    // the bridge of bridge-mode containers (made if missing)
  std::string network_cidr = "172.31.0.0/16";  // their subnet; the bridge takes its first address
  std::string egress_rate_limit_per_container;   // bytes/s a container may send (10MB, ...); empty: none
  std::string ingress_rate_limit_per_container;  // bytes/s it may receive
  std::string bounding_capabilities;        // comma-separated: the most a task may hold; empty: no limit
  double kill_grace_period = 3.0;           // SIGTERM -> SIGKILL delay when a kill policy gives none
  double status_update_retry_interval = 10.0;  // seconds before an unacknowledged update is resent
  std::size_t max_request_bytes = 1 << 20;
  std::string log_level = "info";
};

void add_flags(CLI::App& app, Flags& flags);

}  // namespace berth::agent
