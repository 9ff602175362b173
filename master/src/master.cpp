#include "berth/master/master.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "berth/common/clock.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/recordio.hpp"
#include "master_process.hpp"

namespace berth::master {

MasterProcess::MasterProcess(asio::any_io_executor executor, Flags flags)
    : executor_(executor),
      flags_(std::move(flags)),
      server_(executor, http::Server::Options{.address = flags_.ip,
                                              .port = flags_.port,
                                              .max_body_bytes = flags_.max_request_bytes,
                                              .max_stream_queue_bytes = flags_.max_event_stream_bytes}),
      tick_timer_(executor),
      heartbeat_timer_(executor),
      master_id_(ids::random_string()),
      start_time_(now_seconds()) {
  if (flags_.hostname.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    flags_.hostname = name;
  }
  metrics_.describe("berth_master_tasks_launched_total", "counter", "Tasks sent to agents");
  metrics_.describe("berth_master_task_updates_total", "counter",
                    "Task status updates received from agents, by state");
  metrics_.describe("berth_master_offers_sent_total", "counter", "Offers sent to frameworks");
  metrics_.describe("berth_master_agents_unreachable_total", "counter", "Agents marked unreachable");
  metrics_.describe("berth_master_elections_won_total", "counter", "Times this master was elected leader");
  metrics_.describe("berth_master_slow_subscribers_total", "counter",
                    "Event streams cut off because their reader fell too far behind");
  metrics_.describe("berth_master_http_bad_requests_total", "counter",
                    "API requests refused with a 4xx answer");
}

Result<void> MasterProcess::start() {
  auto handler = [this](auto member) {
    return [this, member](http::Exchange& exchange) { return (this->*member)(exchange); };
  };
  server_.route("/api/v1/scheduler", leader_only(handler(&MasterProcess::handle_scheduler)));
  server_.route("/master/api/v1/scheduler", leader_only(handler(&MasterProcess::handle_scheduler)));
  server_.route("/api/v1/agent", leader_only(handler(&MasterProcess::handle_agent)));
  server_.route("/flags", http::only(http::Verb::get, [this](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, flags_json(flags_), "application/json"));
  }));
  auto state = http::only(http::Verb::get, [this](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, state_json(), "application/json"));
  });
  server_.route("/state", state);
  server_.route("/master/state", state);
  auto health = http::only(http::Verb::get, [](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, ""));
  });
  server_.route("/health", health);
  server_.route("/master/health", health);
  server_.route("/metrics", http::only(http::Verb::get, [this](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, metrics_text(), metrics::kContentType));
  }));
  server_.route("/version", http::only(http::Verb::get, [](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(
        http::Status::ok, fmt::format(R"({{"version":"{}"}})", BERTH_VERSION), "application/json"));
  }));
  add_operator_routes();
  BERTH_TRY_VOID(load_roles_config());
  BERTH_TRY_VOID(with_context(load_agent_registry(), "--work_dir"));
  BERTH_TRY_VOID(with_context(server_.listen(), fmt::format("listen on {}:{}", flags_.ip, flags_.port)));
  log::info("Master {} listening on {}:{}", master_id_, flags_.ip, server_.port());
  BERTH_TRY_VOID(start_election());
  asio::co_spawn(executor_, tick_loop(), asio::detached);
  asio::co_spawn(executor_, heartbeat_loop(), asio::detached);
  return {};
}

void MasterProcess::stop() {
  if (stopping_) return;
  stopping_ = true;
  leader_watch_.reset();  // our candidacy ends with the session
  tick_timer_.cancel();
  heartbeat_timer_.cancel();
  for (auto& [id, framework] : frameworks_) {
    if (framework.stream) framework.stream->close();
  }
  for (auto& [id, agent] : agents_) {
    if (agent.stream) agent.stream->close();
  }
  server_.stop();
}

asio::awaitable<void> MasterProcess::tick_loop() {
  while (!stopping_) {
    tick_timer_.expires_after(to_ms(flags_.allocation_interval));
    boost::system::error_code ec;
    co_await tick_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    expire(Clock::now());
    allocate();
  }
}

asio::awaitable<void> MasterProcess::heartbeat_loop() {
  while (!stopping_) {
    heartbeat_timer_.expires_after(to_ms(flags_.heartbeat_interval));
    boost::system::error_code ec;
    co_await heartbeat_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    sched::Event framework_beat;
    framework_beat.set_type(sched::Event::HEARTBEAT);
    for (auto& [id, framework] : frameworks_) {
      if (framework.connected) send(framework, framework_beat);
    }
    agent::Event agent_beat;
    agent_beat.set_type(agent::Event::HEARTBEAT);
    for (auto& [id, agent] : agents_) {
      if (agent.connected) send(agent, agent_beat);
    }
  }
}

void MasterProcess::request_allocation() {
  if (allocation_pending_ || stopping_) return;
  allocation_pending_ = true;
  asio::post(executor_, [this] {
    allocation_pending_ = false;
    if (!stopping_) allocate();
  });
}

Resources MasterProcess::cluster_total() const { return allocator_.cluster_total(); }

void MasterProcess::allocate() { make_offers(allocator_.allocate(Clock::now())); }

void MasterProcess::expire(Clock::time_point now) {
  std::vector<std::string> expired_frameworks;
  for (auto& [id, framework] : frameworks_) {
    auto timeout = std::chrono::duration<double>(framework.info.failover_timeout());
    if (!framework.connected && now - framework.disconnected_at >= timeout) expired_frameworks.push_back(id);
  }
  for (const auto& id : expired_frameworks) remove_framework(id, "failover timeout elapsed");

  check_agents(now);
  expire_recovered_agents(now);
  expire_offers(now);
}

void MasterProcess::send(FrameworkRecord& framework, const sched::Event& event) {
  if (!framework.stream || !framework.stream->is_open()) return;
  framework.stream->send(recordio::encode(codec::encode(framework.format, event)));
}

void MasterProcess::send(AgentRecord& agent, const agent::Event& event) {
  if (!agent.stream || !agent.stream->is_open()) return;
  agent.stream->send(recordio::encode(codec::encode(agent.format, event)));
}

void MasterProcess::update_framework(const std::string& framework_id, const v1::TaskStatus& status) {
  auto framework = frameworks_.find(framework_id);
  if (framework == frameworks_.end() || !framework->second.connected) return;
  sched::Event event;
  event.set_type(sched::Event::UPDATE);
  *event.mutable_update()->mutable_status() = status;
  send(framework->second, event);
}

void MasterProcess::finish_task(const TaskKey& key) {
  auto it = tasks_.find(key);
  if (it == tasks_.end()) return;
  release_task(it->second);
  remove_task(key);
}

void MasterProcess::release_task(TaskRecord& task) {
  if (task.released) return;
  task.released = true;
  allocator_.recover(task.framework_id, task.role, task.agent_id, task.resources);
  if (!task.executor_id.empty()) executor_task_ended(task);
  request_allocation();
}

void MasterProcess::executor_task_ended(const TaskRecord& task) {
  auto it = executors_.find({task.framework_id, task.agent_id, task.executor_id});
  if (it == executors_.end()) return;
  auto& executor = it->second;
  executor.live_tasks.erase(task.info.task_id().value());
  if (task.state != v1::TASK_FINISHED) executor.all_finished = false;
  if (!executor.live_tasks.empty()) return;
  allocator_.recover(task.framework_id, executor.role, task.agent_id, executor.resources);
  // Mesos tells the framework that the executor ended, with its exit status.
  auto framework = frameworks_.find(task.framework_id);
  if (framework != frameworks_.end() && framework->second.connected) {
    sched::Event failure;
    failure.set_type(sched::Event::FAILURE);
    failure.mutable_failure()->mutable_agent_id()->set_value(task.agent_id);
    failure.mutable_failure()->mutable_executor_id()->set_value(task.executor_id);
    failure.mutable_failure()->set_status(executor.all_finished ? 0 : 1);
    send(framework->second, failure);
  }
  log::info("Executor {} of framework {} on agent {} ended with its last task", task.executor_id, task.framework_id,
            task.agent_id);
  executors_.erase(it);
}

void MasterProcess::remove_task(const TaskKey& key) {
  auto it = tasks_.find(key);
  if (it == tasks_.end()) return;
  auto task = std::move(it->second);
  tasks_.erase(it);
  if (auto framework = frameworks_.find(task.framework_id); framework != frameworks_.end()) {
    auto& completed = framework->second.completed;
    completed.push_back(std::move(task));
    while (completed.size() > flags_.max_completed_tasks) completed.pop_front();
  }
}

void MasterProcess::remove_framework(const std::string& id, std::string_view why) {
  // The caller's reference may point into the record this erases.
  const std::string framework_id = id;
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) return;
  log::info("Removing framework {} ({}): {}", framework_id, it->second.info.name(), why);
  it->second.connected = false;  // it hears nothing more
  rescind_offers(framework_id, {});
  std::set<std::string> agents_with_tasks;
  std::vector<TaskKey> keys;
  for (auto& [key, task] : tasks_) {
    if (key.first != framework_id) continue;
    agents_with_tasks.insert(task.agent_id);
    keys.push_back(key);
  }
  agent::Event shutdown;
  shutdown.set_type(agent::Event::SHUTDOWN_FRAMEWORK);
  shutdown.mutable_shutdown_framework()->mutable_framework_id()->set_value(framework_id);
  for (const auto& agent_id : agents_with_tasks) {
    if (auto agent = agents_.find(agent_id); agent != agents_.end()) send(agent->second, shutdown);
  }
  for (const auto& key : keys) finish_task(key);
  if (it->second.stream) it->second.stream->close();
  frameworks_.erase(it);
  allocator_.remove_framework(framework_id);
}

std::string MasterProcess::next_id(char kind) {
  return fmt::format("{}-{}{:04}", master_id_, kind, id_counter_++);
}

v1::TaskStatus MasterProcess::master_status(const TaskRecord& task, v1::TaskState state,
                                            v1::TaskStatus::Reason reason, std::string message) const {
  v1::TaskStatus status;
  *status.mutable_task_id() = task.info.task_id();
  status.set_state(state);
  status.set_source(v1::TaskStatus::SOURCE_MASTER);
  status.set_reason(reason);
  status.set_message(std::move(message));
  if (!task.agent_id.empty()) status.mutable_agent_id()->set_value(task.agent_id);
  status.set_timestamp(now_seconds());
  return status;
}

Master::Master(boost::asio::any_io_executor executor, Flags flags)
    : process_(std::make_unique<MasterProcess>(executor, std::move(flags))) {}
Master::~Master() = default;
Result<void> Master::start() { return process_->start(); }
void Master::stop() { process_->stop(); }
std::uint16_t Master::port() const { return process_->port(); }
int Master::exit_code() const { return process_->exit_code(); }

}  // namespace berth::master
