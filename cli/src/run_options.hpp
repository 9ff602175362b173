#pragma once
// The flags of `berth run` and the checks they must pass before anything is sent.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::cli {

struct RunOptions {
  std::string master = "127.0.0.1:5050";
  std::string name;  // the task's name; empty: derived from the command
  double cpus = 0.1;
  double mem_mb = 32;
  double disk_mb = 0;  // 0: not requested
  std::string cpus_limit;  // TaskInfo.limits["cpus"]: a number or "infinity"; empty: none given
  std::string mem_limit;   // TaskInfo.limits["mem"], in MB, likewise
  std::vector<std::string> labels;  // KEY=VALUE, e.g. berth.pids_max=64
  std::string image;                // Docker image to run the task from; empty: the agent's filesystem
  bool force_pull = false;          // pull even if the agent holds the image
  std::vector<std::string> env;  // KEY=VALUE
  bool shell = false;
  std::vector<std::string> command;
  double offer_timeout_s = 30;
  double kill_after_s = 0;  // 0: never
  std::optional<double> kill_grace_period_s;  // the task's kill policy; unset: the agent's default
  std::optional<std::string> capabilities;    // the task's effective set: comma-separated CAP_* or bare names, or "none"
  std::string seccomp_profile;                // the berth.seccomp_profile label; empty: the agent's
  std::string user;                           // CommandInfo.user; empty: the framework's (the caller's)
  std::string network = "host";               // host | bridge | none
  std::vector<std::string> publish;           // HOST:CONTAINER[/tcp|/udp] port mappings (bridge)
  std::vector<std::uint32_t> host_ports;      // host ports the task takes from the offer (host network)
  double failover_timeout_s = 10;
  double master_timeout_s = 60;
  bool quiet = false;
  std::string framework_name = "berth-run";
  std::string role = "*";
  std::string log_level = "warn";
};

using EnvVar = std::pair<std::string, std::string>;

// Declares the flags of `berth run` on `run`, writing into `options`.
void add_run_flags(CLI::App& run, RunOptions& options);

// The command line split at the first "--": the flags before it (argv[0] included)
// for CLI11, and the command after it, taken verbatim so that none of its words is
// ever mistaken for one of ours.
struct SplitArgs {
  std::vector<const char*> flags;
  std::vector<std::string> command;
};
SplitArgs split_at_double_dash(int argc, const char* const* argv);

// Checks what CLI11 cannot: a command after `--`, positive resources, KEY=VALUE pairs.
Result<void> validate(const RunOptions& options);

// "KEY=VALUE" -> {KEY, VALUE}; the value may be empty or contain '='. `flag`
// names the option in the error.
Result<EnvVar> parse_env_var(std::string_view text, std::string_view flag = "--env");

struct Published {
  std::uint32_t host_port = 0;
  std::uint32_t container_port = 0;
  std::string protocol = "tcp";
};
// A --publish value: "8080:80", "5353:53/udp".
Result<Published> parse_publish(std::string_view text);

// A --cpus_limit or --mem_limit value: a positive number, or "infinity" for
// no limit at all.
Result<double> parse_limit(std::string_view flag, std::string_view text);

}  // namespace berth::cli
