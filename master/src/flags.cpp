#include "berth/master/flags.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "berth/common/flags.hpp"

namespace berth::master {

void add_flags(CLI::App& app, Flags& flags) {
  app.add_option("--ip", flags.ip, "IP address to listen on")->capture_default_str();
  app.add_option("--port", flags.port, "Port to listen on")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--hostname", flags.hostname, "Hostname advertised to frameworks and agents");
  app.add_option("--work_dir", flags.work_dir,
                 "Directory for the master's persistent state (role weights and quotas, the agents it admitted)");
  app.add_option("--allocation_interval", flags.allocation_interval,
                 "Seconds between batch allocations")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--heartbeat_interval", flags.heartbeat_interval,
                 "Seconds between HEARTBEAT events to frameworks and agents")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--agent_ping_timeout", flags.agent_ping_timeout,
                 "Seconds without a heartbeat from an agent that count as one missed ping")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max_agent_ping_timeouts", flags.max_agent_ping_timeouts,
                 "Missed pings after which an agent is unreachable: its tasks become TASK_UNREACHABLE for "
                 "partition-aware frameworks, TASK_LOST for the others")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}))
      ->capture_default_str();
  app.add_option("--registry_max_agent_age", flags.registry_max_agent_age,
                 "Seconds an unreachable agent is remembered; it may come back with its tasks until then")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--agent_reregister_timeout", flags.agent_reregister_timeout,
                 "Seconds a restarted master waits for the agents it had admitted (--work_dir) to re-register; "
                 "until then, reconciling a task on one of them gets no answer rather than TASK_LOST")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--offer_timeout", flags.offer_timeout,
                 "Seconds after which an unused offer is rescinded (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--weights", flags.weights,
                 "Role weights for fair sharing, e.g. 'eng=2,ads=0.5' (PUT /weights changes them at run time)");
  app.add_option("--zk", flags.zk,
                 "ZooKeeper URL (zk://host:port[,host:port...]/path) through which several masters elect a leader, "
                 "in Mesos's layout; the others answer API calls with 307 to it (503 while none is known)");
  app.add_option("--zk_session_timeout", flags.zk_session_timeout, "ZooKeeper session timeout, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max_request_bytes", flags.max_request_bytes, "Largest accepted request body")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max_event_stream_bytes", flags.max_event_stream_bytes,
                 "Event bytes a framework or agent may leave unread before the master cuts its stream off")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 34))
      ->capture_default_str();
  app.add_option("--max_completed_tasks_per_framework", flags.max_completed_tasks,
                 "Completed tasks kept per framework for /state")
      ->capture_default_str();
  app.add_option("--logging_level", flags.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  flags::bind_env(app);
}

std::string flags_json(const Flags& f) {
  auto number = [](double value) { return fmt::format("{}", value); };
  boost::json::object out{
      {"ip", f.ip},
      {"port", std::to_string(f.port)},
      {"hostname", f.hostname},
      {"work_dir", f.work_dir},
      {"allocation_interval", number(f.allocation_interval)},
      {"heartbeat_interval", number(f.heartbeat_interval)},
      {"agent_ping_timeout", number(f.agent_ping_timeout)},
      {"max_agent_ping_timeouts", std::to_string(f.max_agent_ping_timeouts)},
      {"registry_max_agent_age", number(f.registry_max_agent_age)},
      {"agent_reregister_timeout", number(f.agent_reregister_timeout)},
      {"offer_timeout", number(f.offer_timeout)},
      {"weights", f.weights},
      {"zk", f.zk},
      {"zk_session_timeout", number(f.zk_session_timeout)},
      {"max_request_bytes", std::to_string(f.max_request_bytes)},
      {"max_event_stream_bytes", std::to_string(f.max_event_stream_bytes)},
      {"max_completed_tasks_per_framework", std::to_string(f.max_completed_tasks)},
      {"logging_level", f.log_level},
  };
  return boost::json::serialize(boost::json::object{{"flags", std::move(out)}});
}

}  // namespace berth::master
