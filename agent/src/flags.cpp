#include "berth/agent/flags.hpp"

#include "berth/common/flags.hpp"

namespace berth::agent {

void add_flags(CLI::App& app, Flags& flags) {
  app.add_option("--master", flags.master,
                 "The master's host:port, or zk://host:port[,host:port...]/path to follow the leading master")
      ->required();
  app.add_option("--ip", flags.ip, "IP address to listen on")->capture_default_str();
  app.add_option("--port", flags.port, "Port to listen on")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--hostname", flags.hostname, "Hostname advertised to the master");
  app.add_option("--work_dir", flags.work_dir,
                 "Directory for checkpoints, sandboxes and container runtime state")
      ->required();
  app.add_option("--resources", flags.resources,
                 "Resources to advertise instead of the detected ones, e.g. "
                 "'cpus:4;mem:8192;disk:100000;ports:[31000-32000]' or a JSON array");
  app.add_option("--cgroups_root", flags.cgroups_root,
                 "cgroup v2 directory under which each container gets a cgroup "
                 "(default: <cgroup2 mount>/berth)");
  app.add_option("--isolation", flags.isolation,
                 "Comma-separated isolators: cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/io (cgroups/blkio), "
                 "cgroups/cpuset, cgroups/hugetlb, cgroups/devices")
      ->capture_default_str();
  app.add_flag("--allow_missing_cgroup_controllers", flags.allow_missing_cgroup_controllers,
               "Run even if a cgroup controller that --isolation needs is missing (the agent then says which, in "
               "its log, /state and /metrics); without it the agent stops at start");
  app.add_option("--cgroups_enable_cfs", flags.cgroups_enable_cfs,
                 "Hard-limit CPU time (cpu.max) to the cpus a task requested when it sets no cpus limit")
      ->capture_default_str();
  app.add_option("--cgroups_cpu_period_us", flags.cgroups_cpu_period_us, "Period of the cpu.max quota, microseconds")
      ->check(CLI::Range(std::uint64_t{1000}, std::uint64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--cgroups_limit_swap", flags.cgroups_limit_swap,
                 "Let no container swap (memory.swap.max = 0), so the memory limit bounds memory and swap together")
      ->capture_default_str();
  app.add_option("--container_pids_max", flags.container_pids_max,
                 "Most processes and threads a container may have (pids.max); 0: no limit")
      ->capture_default_str();
  app.add_option("--image_store_dir", flags.image_store_dir,
                 "Where pulled images (verified blobs and unpacked layers) are kept (default: <work_dir>/images)");
  app.add_option("--docker_registry", flags.docker_registry,
                 "Where images named without a registry come from: a registry (host[:port], https://host[:port], "
                 "or http://host[:port] for plain HTTP; default Docker Hub), or an absolute directory of "
                 "`docker save` archives named <repository>:<tag>.tar, which also holds the only local images "
                 "(oci:, oci-archive:, docker-archive:) tasks may name");
  app.add_option("--insecure_registries", flags.insecure_registries,
                 "Comma-separated host[:port] of registries reached over plain HTTP");
  app.add_option("--registry_ca_file", flags.registry_ca_file,
                 "PEM file of CAs to trust for registries' TLS certificates, besides the system's")
      ->check(CLI::ExistingFile);
  app.add_option("--docker_config", flags.docker_config,
                 "Docker config.json holding registry credentials (\"auths\"), as docker login writes it");
  app.add_option("--image_pull_parallelism", flags.image_pull_parallelism, "Layers downloaded at once per image pull")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  app.add_option("--recover", flags.recover,
                 "On start: 'reconnect' to containers left running, or 'cleanup' to kill them")
      ->check(CLI::IsMember({"reconnect", "cleanup"}))
      ->capture_default_str();
  app.add_option("--registration_backoff_factor", flags.registration_backoff_factor,
                 "Seconds before the first retry to reach the master; doubled up to 60 s")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--heartbeat_interval", flags.heartbeat_interval,
                 "Seconds between heartbeats to the master")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seccomp_config_dir", flags.seccomp_config_dir,
                 "Directory of seccomp profiles, <name>.json in Docker's or the OCI JSON format");
  app.add_option("--seccomp_profile_name", flags.seccomp_profile_name,
                 "Seccomp profile of every task unless it names its own: a name in --seccomp_config_dir, "
                 "empty for the built-in default, or 'unconfined' for none");
  app.add_flag("--seccomp_allow_unconfined", flags.seccomp_allow_unconfined,
               "Let tasks run without a seccomp filter (label berth.seccomp_profile=unconfined)");
  app.add_flag("--switch_user,!--no-switch_user", flags.switch_user,
               "Run a command task as its CommandInfo.user, else as its framework's user, as Mesos does "
               "(--no-switch_user: as the agent's user)")
      ->capture_default_str();
  app.add_flag("--user_namespaces", flags.user_namespaces,
               "Run every container in its own user namespace, its root a range of unprivileged host ids "
               "(a task opts out or in with the label berth.user_namespace=false|true)");
  app.add_option("--user_namespace_ids", flags.user_namespace_ids,
                 "FIRST:COUNT: the host ids leased to user namespaces, 65536 per container")
      ->capture_default_str();
  app.add_option("--network_bridge", flags.network_bridge,
                 "Bridge of bridge-mode containers (with --isolation network/bridge); made if missing")
      ->capture_default_str();
  app.add_option("--network_cidr", flags.network_cidr,
                 "Subnet bridge-mode containers get addresses from; the bridge takes its first address")
      ->capture_default_str();
  app.add_option("--egress_rate_limit_per_container", flags.egress_rate_limit_per_container,
                 "Bytes per second a container with a network of its own may send (e.g. 10MB; a task may set "
                 "label berth.egress_rate_limit); empty: no limit");
  app.add_option("--ingress_rate_limit_per_container", flags.ingress_rate_limit_per_container,
                 "Bytes per second such a container may receive (label berth.ingress_rate_limit); empty: no limit");
  app.add_option("--bounding_capabilities", flags.bounding_capabilities,
                 "Comma-separated CAP_* names: the most any task may hold (empty: no limit)");
  app.add_option("--kill_grace_period", flags.kill_grace_period,
                 "Seconds between SIGTERM and SIGKILL when killing a task without a kill policy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--status_update_retry_interval", flags.status_update_retry_interval,
                 "Seconds before an unacknowledged status update is sent again")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max_request_bytes", flags.max_request_bytes, "Largest accepted request body")
      ->capture_default_str();
  app.add_option("--logging_level", flags.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  flags::bind_env(app);
}

}  // namespace berth::agent
