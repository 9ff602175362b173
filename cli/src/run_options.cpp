#include "run_options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace berth::cli {

void add_run_flags(CLI::App& run, RunOptions& o) {
  run.add_option("--master", o.master,
                 "Master to subscribe to: host:port, or zk://host:port[,host:port...]/path to find the leading one")
      ->capture_default_str();
  run.add_option("--name", o.name, "Task name (default: the command's base name)");
  run.add_option("--cpus", o.cpus, "CPUs for the task")->capture_default_str();
  run.add_option("--mem", o.mem_mb, "Memory for the task, in MB")->capture_default_str();
  run.add_option("--disk", o.disk_mb, "Disk for the task, in MB (0: none requested)")->capture_default_str();
  run.add_option("--cpus_limit", o.cpus_limit,
                 "CPU limit above the --cpus request (TaskInfo.limits), or \"infinity\" for none");
  run.add_option("--mem_limit", o.mem_limit,
                 "Memory limit in MB above the --mem request (TaskInfo.limits), or \"infinity\" for none");
  run.add_option("--label", o.labels,
                 "Task label KEY=VALUE (repeatable), e.g. berth.pids_max=64, berth.io.max=...");
  run.add_option("--image", o.image,
                 "Docker image to run the task in (e.g. busybox, registry:5000/app:1.0); without a command after "
                 "--, the image's Entrypoint and Cmd run");
  run.add_flag("--force_pull", o.force_pull,
               "Pull the image even if the agent already holds it (Mesos Image.cached = false)");
  run.add_option("--env", o.env, "Environment variable KEY=VALUE for the task (repeatable)");
  run.add_flag("--shell", o.shell, "Run the command joined by spaces through /bin/sh -c");
  run.add_option("--offer_timeout", o.offer_timeout_s, "Seconds to wait for a suitable offer")
      ->capture_default_str();
  run.add_option("--kill_after", o.kill_after_s, "Kill the task this many seconds after launching it");
  run.add_option("--capabilities", o.capabilities,
                 "The task's capabilities, comma-separated (CAP_NET_ADMIN or NET_ADMIN), or 'none' "
                 "(default: the agent's default set)");
  run.add_option("--user", o.user,
                 "Account the task runs as on the agent (CommandInfo.user; default: yours), or in an image");
  run.add_option("--network", o.network,
                 "host (the agent's network and ports), bridge (an address of its own on the agent's bridge) "
                 "or none (loopback only)")
      ->check(CLI::IsMember({"host", "bridge", "none"}))
      ->capture_default_str();
  run.add_option("--publish", o.publish,
                 "HOST:CONTAINER[/udp]: map a host port (taken from the offer) to a container port; "
                 "with --network bridge (repeatable)");
  run.add_option("--host_port", o.host_ports,
                 "A host port the task takes from the offer, with --network host; the task finds its ports in "
                 "$PORT0.. and $PORTS (repeatable)")
      ->check(CLI::Range(1, 65535));
  run.add_option("--seccomp_profile", o.seccomp_profile,
                 "Seccomp profile of the task: a name in the agent's --seccomp_config_dir, or 'unconfined'");
  run.add_option("--kill_grace_period", o.kill_grace_period_s,
                 "Seconds between SIGTERM and SIGKILL when the task is killed (its kill policy; "
                 "default: the agent's --kill_grace_period)");
  run.add_option("--failover_timeout", o.failover_timeout_s,
                 "Seconds the master keeps the framework's task alive while this CLI is away")
      ->capture_default_str();
  run.add_option("--master_timeout", o.master_timeout_s,
                 "Seconds to keep trying to (re)connect to the master")
      ->capture_default_str();
  run.add_flag("--quiet", o.quiet, "Print no task status lines");
  run.add_option("--framework_name", o.framework_name, "Name of the framework this CLI registers")
      ->capture_default_str();
  run.add_option("--role", o.role, "Role to receive offers for")->capture_default_str();
  run.add_option("--log_level", o.log_level, "trace|debug|info|warn|error|off")->capture_default_str();
}

SplitArgs split_at_double_dash(int argc, const char* const* argv) {
  SplitArgs split;
  int i = 0;
  for (; i < argc && std::string_view(argv[i]) != "--"; ++i) split.flags.push_back(argv[i]);
  for (++i; i < argc; ++i) split.command.emplace_back(argv[i]);
  return split;
}

Result<EnvVar> parse_env_var(std::string_view text, std::string_view flag) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return fail(fmt::format("{} '{}': expecting KEY=VALUE", flag, text));
  }
  return EnvVar{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Result<double> parse_limit(std::string_view flag, std::string_view text) {
  if (text == "infinity") return std::numeric_limits<double>::infinity();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value <= 0) {
    return fail(fmt::format("{} '{}': expecting a number greater than 0 or \"infinity\"", flag, text));
  }
  return value;
}

namespace {

Result<void> check_positive(std::string_view flag, double value) {
  if (value > 0) return {};
  return fail(fmt::format("{} must be greater than 0 (got {})", flag, value));
}

Result<void> check_not_negative(std::string_view flag, double value) {
  if (value >= 0) return {};
  return fail(fmt::format("{} must not be negative (got {})", flag, value));
}

}  // namespace

Result<void> validate(const RunOptions& o) {
  if (!o.command.empty() && o.command.front().empty()) return fail("the command's program is an empty string");
  if (o.command.empty() && o.image.empty()) {
    return fail("missing command: usage is berth run [flags] -- COMMAND [ARGS...] (or --image IMAGE)");
  }
  if (o.shell && o.command.empty()) return fail("--shell needs a command after --");
  if (o.force_pull && o.image.empty()) return fail("--force_pull needs --image");
  BERTH_TRY_VOID(check_positive("--cpus", o.cpus));
  BERTH_TRY_VOID(check_positive("--mem", o.mem_mb));
  BERTH_TRY_VOID(check_not_negative("--disk", o.disk_mb));
  BERTH_TRY_VOID(check_positive("--offer_timeout", o.offer_timeout_s));
  BERTH_TRY_VOID(check_not_negative("--kill_after", o.kill_after_s));
  if (o.kill_grace_period_s) BERTH_TRY_VOID(check_not_negative("--kill_grace_period", *o.kill_grace_period_s));
  BERTH_TRY_VOID(check_not_negative("--failover_timeout", o.failover_timeout_s));
  BERTH_TRY_VOID(check_positive("--master_timeout", o.master_timeout_s));
  if (o.framework_name.empty()) return fail("--framework_name must not be empty");
  if (o.role.empty()) return fail("--role must not be empty");
  for (const auto& var : o.env) BERTH_TRY_VOID(parse_env_var(var));
  for (const auto& label : o.labels) BERTH_TRY_VOID(parse_env_var(label, "--label"));
  if (!o.cpus_limit.empty()) BERTH_TRY_VOID(parse_limit("--cpus_limit", o.cpus_limit));
  if (!o.mem_limit.empty()) BERTH_TRY_VOID(parse_limit("--mem_limit", o.mem_limit));
  for (const auto& mapping : o.publish) BERTH_TRY_VOID(parse_publish(mapping));
  if (!o.publish.empty() && o.network != "bridge") return fail("--publish needs --network bridge");
  if (!o.host_ports.empty() && o.network != "host") {
    return fail("--host_port is for --network host (with bridge, --publish maps host ports)");
  }
  return {};
}

Result<Published> parse_publish(std::string_view text) {
  auto bad = [&](const std::string& why) { return fail("--publish '" + std::string(text) + "': " + why); };
  Published out;
  auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    out.protocol = std::string(text.substr(slash + 1));
    if (out.protocol != "tcp" && out.protocol != "udp") return bad("the protocol must be tcp or udp");
    text = text.substr(0, slash);
  }
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return bad("expected HOST:CONTAINER[/udp]");
  auto port = [](std::string_view digits) -> std::optional<std::uint32_t> {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    return value;
  };
  auto host = port(text.substr(0, colon));
  auto container = port(text.substr(colon + 1));
  if (!host || !container) return bad("ports are numbers from 1 to 65535");
  out.host_port = *host;
  out.container_port = *container;
  return out;
}

}  // namespace berth::cli
