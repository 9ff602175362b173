// The Mesos v1 scheduler API: POST /api/v1/scheduler.

#include <fmt/format.h>

#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "master_process.hpp"
#include "request.hpp"

namespace berth::master {
namespace {

constexpr std::string_view kStreamIdHeader = "Mesos-Stream-Id";

HttpError bad_request(std::string message) { return {http::Status::bad_request, std::move(message)}; }

std::string validate_framework_info(const v1::FrameworkInfo& info) {
  if (info.user().empty()) return "'framework_info.user' must be set";
  if (info.name().empty()) return "'framework_info.name' must be set";
  if (info.has_id() && !ids::is_safe_path_component(info.id().value())) {
    return "'framework_info.id' '" + info.id().value() + "' is not a valid id";
  }
  if (info.failover_timeout() < 0) return "'framework_info.failover_timeout' must not be negative";
  return {};
}

}  // namespace

asio::awaitable<void> MasterProcess::handle_scheduler(http::Exchange& exchange) {
  auto parsed = parse_call<sched::Call>(exchange.request());
  if (!parsed) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(parsed.error()));
    co_return;
  }
  auto& [call, negotiated] = *parsed;
  if (call.type() == sched::Call::SUBSCRIBE) {
    co_await subscribe(exchange, std::move(call), negotiated.response_format);
    co_return;
  }

  auto reply = [&]() -> std::expected<void, HttpError> {
    if (!call.has_framework_id()) return std::unexpected(bad_request("Expecting 'framework_id' to be present"));
    auto it = frameworks_.find(call.framework_id().value());
    if (it == frameworks_.end() || !it->second.connected) {
      return std::unexpected(HttpError{http::Status::forbidden,
                                       "Framework '" + call.framework_id().value() + "' is not subscribed"});
    }
    auto& framework = it->second;
    auto stream_id = exchange.request()[kStreamIdHeader];
    if (stream_id.empty()) return std::unexpected(bad_request("All non-subscribe calls should include the 'Mesos-Stream-Id' header"));
    if (stream_id != framework.stream_id) {
      return std::unexpected(bad_request("The stream ID '" + std::string(stream_id) +
                                         "' included in this request didn't match the stream ID "
                                         "currently associated with framework ID " + framework.id));
    }
    auto check = [](Result<void> result) -> std::expected<void, HttpError> {
      if (!result) return std::unexpected(bad_request(result.error().what()));
      return {};
    };
    switch (call.type()) {
      case sched::Call::TEARDOWN:
        remove_framework(framework.id, "framework asked to be torn down");
        return {};
      case sched::Call::ACCEPT:
        return check(accept(framework, call.accept()));
      case sched::Call::DECLINE:
        decline(framework, call.decline().offer_ids(),
                call.decline().has_filters() ? call.decline().filters().refuse_seconds() : 5.0);
        return {};
      case sched::Call::REVIVE:
        framework.suppressed = false;
        framework.declined_until.clear();
        request_allocation();
        return {};
      case sched::Call::SUPPRESS:
        framework.suppressed = true;
        rescind_offers(framework.id, {});
        return {};
      case sched::Call::KILL:
        return check(kill(framework, call.kill()));
      case sched::Call::ACKNOWLEDGE:
        return check(acknowledge(framework, call.acknowledge()));
      case sched::Call::RECONCILE:
        reconcile(framework, call.reconcile());
        return {};
      default:
        return std::unexpected(HttpError{http::Status::not_implemented,
                                         "Call type " + sched::Call::Type_Name(call.type()) +
                                             " is not supported by this master"});
    }
  }();
  if (!reply) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(reply.error()));
    co_return;
  }
  co_await exchange.respond(http::make_response(http::Status::accepted, ""));
}

asio::awaitable<void> MasterProcess::subscribe(http::Exchange& exchange, sched::Call call,
                                               codec::Format format) {
  auto info = call.subscribe().framework_info();
  if (auto problem = validate_framework_info(info); !problem.empty()) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(bad_request(problem)));
    co_return;
  }
  if (call.has_framework_id() && info.has_id() && call.framework_id().value() != info.id().value()) {
    co_await exchange.respond(error_response(
        bad_request("'framework_id' differs from 'subscribe.framework_info.id'")));
    co_return;
  }
  std::string id = info.has_id() ? info.id().value() : next_id('F');
  info.mutable_id()->set_value(id);

  auto& framework = frameworks_[id];
  if (framework.id.empty()) {
    framework.id = id;
    framework.registered_time = now_seconds();
    log::info("Framework {} ({}) subscribed", id, info.name());
  } else {
    log::info("Framework {} ({}) re-subscribed", id, info.name());
    if (framework.stream) {
      sched::Event error;
      error.set_type(sched::Event::ERROR);
      error.mutable_error()->set_message("Framework failed over");
      send(framework, error);
      framework.stream->close();
    }
    rescind_offers(id, {});
  }
  framework.info = info;
  framework.stream_id = ids::random_string();
  framework.format = format;
  framework.connected = true;
  framework.suppressed = false;

  auto head = http::make_response(http::Status::ok, "", codec::kRecordIoType);
  head.set(boost::beast::http::field::content_type, codec::kRecordIoType);
  head.set("Record-IO-Content-Type", std::string(codec::content_type(format)));
  head.set(kStreamIdHeader, framework.stream_id);
  auto stream = co_await exchange.stream(std::move(head));
  framework.stream = stream;

  sched::Event subscribed;
  subscribed.set_type(sched::Event::SUBSCRIBED);
  subscribed.mutable_subscribed()->mutable_framework_id()->set_value(id);
  subscribed.mutable_subscribed()->set_heartbeat_interval_seconds(flags_.heartbeat_interval);
  send(framework, subscribed);
  request_allocation();

  co_await stream->wait_closed();
  auto it = frameworks_.find(id);
  if (it == frameworks_.end() || it->second.stream != stream) co_return;
  log::info("Framework {} disconnected; failover timeout {}s", id, it->second.info.failover_timeout());
  it->second.connected = false;
  it->second.stream.reset();
  it->second.disconnected_at = Clock::now();
  rescind_offers(id, {});
  if (it->second.info.failover_timeout() <= 0) remove_framework(id, "disconnected with no failover timeout");
}

Result<void> MasterProcess::accept(FrameworkRecord& framework, const sched::Call::Accept& accept) {
  if (accept.offer_ids_size() == 0) return fail("ACCEPT names no offers");
  std::string agent_id;
  Resources available;
  for (const auto& offer_id : accept.offer_ids()) {
    auto it = offers_.find(offer_id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) {
      // Mesos answers unknown offers with TASK_DROPPED updates, not an HTTP error.
      for (const auto& op : accept.operations()) {
        for (const auto& task : op.launch().task_infos()) {
          TaskRecord record{framework.id, task.agent_id().value(), task, v1::TASK_DROPPED, {}, {}};
          update_framework(framework.id, master_status(record, v1::TASK_DROPPED,
                                                       v1::TaskStatus::REASON_INVALID_OFFERS,
                                                       "Offer " + offer_id.value() + " is no longer valid"));
        }
      }
      return {};
    }
    if (!agent_id.empty() && it->second.agent_id != agent_id) {
      return fail("offers " + offer_id.value() + " and others are from different agents");
    }
    agent_id = it->second.agent_id;
    available += it->second.resources;
  }
  for (const auto& offer_id : accept.offer_ids()) remove_offer(offer_id.value(), false);

  for (const auto& op : accept.operations()) {
    if (op.type() != v1::Offer::Operation::LAUNCH) {
      return fail("operation " + v1::Offer::Operation::Type_Name(op.type()) + " is not supported");
    }
    for (const auto& task : op.launch().task_infos()) {
      if (auto launched = launch(framework, agent_id, task, available); !launched) {
        TaskRecord record{framework.id, agent_id, task, v1::TASK_ERROR, {}, {}};
        log::info("Refusing task {} of framework {}: {}", task.task_id().value(), framework.id,
                  launched.error().what());
        update_framework(framework.id, master_status(record, v1::TASK_ERROR,
                                                     v1::TaskStatus::REASON_TASK_INVALID,
                                                     launched.error().what()));
      }
    }
  }
  double refuse = accept.has_filters() ? accept.filters().refuse_seconds() : 5.0;
  if (!available.empty() && refuse > 0) {
    framework.declined_until[agent_id] =
        Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(refuse * 1000));
  }
  request_allocation();
  return {};
}

Result<void> MasterProcess::launch(FrameworkRecord& framework, const std::string& agent_id,
                                   v1::TaskInfo task, Resources& available) {
  const auto& task_id = task.task_id().value();
  if (!ids::is_safe_path_component(task_id)) {
    return fail("task id '" + task_id + "' must be 1-255 characters of [A-Za-z0-9._-]");
  }
  if (tasks_.contains({framework.id, task_id})) return fail("task id '" + task_id + "' is already in use");
  if (task.agent_id().value() != agent_id) {
    return fail("task's agent id '" + task.agent_id().value() + "' does not match the offer's '" + agent_id + "'");
  }
  // A task from an image may leave its command to the image's Entrypoint and Cmd.
  bool has_image = task.has_container() && (task.container().has_docker() ||
                                            (task.container().has_mesos() && task.container().mesos().has_image()));
  if (!task.has_command() ||
      (!has_image && !task.command().has_value() && task.command().arguments_size() == 0)) {
    return fail("task has no command to run");
  }
  auto resources = Resources::from_proto(task.resources());
  if (!resources) return fail(resources.error().context("invalid task resources"));
  if (resources->cpus() <= 0 || resources->mem_mb() <= 0) return fail("task must ask for cpus and mem");
  if (!available.contains(*resources)) {
    return fail("task asks for " + resources->to_string() + " but the offers have " + available.to_string());
  }
  auto agent = agents_.find(agent_id);
  if (agent == agents_.end()) return fail("agent " + agent_id + " is unknown");
  available -= *resources;

  TaskRecord record{framework.id, agent_id, task, v1::TASK_STAGING, {}, *resources};
  if (!agent->second.connected) {
    update_framework(framework.id, master_status(record, v1::TASK_LOST, v1::TaskStatus::REASON_AGENT_DISCONNECTED,
                                                 "agent is disconnected"));
    return {};
  }
  agent->second.used += *resources;
  agent::Event run;
  run.set_type(agent::Event::RUN_TASK);
  *run.mutable_run_task()->mutable_framework() = framework.info;
  *run.mutable_run_task()->mutable_task() = task;
  send(agent->second, run);
  tasks_.emplace(TaskKey{framework.id, task_id}, std::move(record));
  metrics_.inc("berth_master_tasks_launched_total");
  log::info("Launching task {} of framework {} on agent {}", task_id, framework.id, agent_id);
  return {};
}

void MasterProcess::decline(FrameworkRecord& framework,
                            const google::protobuf::RepeatedPtrField<v1::OfferID>& ids,
                            double refuse_seconds) {
  auto until = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(refuse_seconds * 1000));
  for (const auto& id : ids) {
    auto it = offers_.find(id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) continue;
    if (refuse_seconds > 0) framework.declined_until[it->second.agent_id] = until;
    remove_offer(id.value(), false);
  }
}

Result<void> MasterProcess::kill(FrameworkRecord& framework, const sched::Call::Kill& kill) {
  auto it = tasks_.find({framework.id, kill.task_id().value()});
  if (it == tasks_.end()) {
    TaskRecord unknown{framework.id, kill.has_agent_id() ? kill.agent_id().value() : "", {}, v1::TASK_LOST, {}, {}};
    *unknown.info.mutable_task_id() = kill.task_id();
    update_framework(framework.id, master_status(unknown, v1::TASK_LOST, v1::TaskStatus::REASON_RECONCILIATION,
                                                 "Attempted to kill an unknown task"));
    return {};
  }
  auto agent = agents_.find(it->second.agent_id);
  if (agent == agents_.end()) return fail("task's agent is unknown");
  agent::Event event;
  event.set_type(agent::Event::KILL_TASK);
  event.mutable_kill_task()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_kill_task()->mutable_task_id() = kill.task_id();
  if (kill.has_kill_policy()) *event.mutable_kill_task()->mutable_kill_policy() = kill.kill_policy();
  send(agent->second, event);
  log::info("Asked agent {} to kill task {} of framework {}", agent->first, kill.task_id().value(), framework.id);
  return {};
}

Result<void> MasterProcess::acknowledge(FrameworkRecord& framework, const sched::Call::Acknowledge& ack) {
  auto agent = agents_.find(ack.agent_id().value());
  if (agent == agents_.end()) return fail("agent '" + ack.agent_id().value() + "' is unknown");
  agent::Event event;
  event.set_type(agent::Event::ACKNOWLEDGE);
  event.mutable_acknowledge()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_acknowledge()->mutable_task_id() = ack.task_id();
  event.mutable_acknowledge()->set_uuid(ack.uuid());
  send(agent->second, event);
  return {};
}

void MasterProcess::reconcile(FrameworkRecord& framework, const sched::Call::Reconcile& reconcile) {
  auto report = [&](const TaskRecord& task) {
    auto status = task.latest ? *task.latest
                              : master_status(task, task.state, v1::TaskStatus::REASON_RECONCILIATION, "");
    status.clear_uuid();
    status.set_reason(v1::TaskStatus::REASON_RECONCILIATION);
    update_framework(framework.id, status);
  };
  if (reconcile.tasks_size() == 0) {
    for (const auto& [key, task] : tasks_) {
      if (key.first == framework.id) report(task);
    }
    return;
  }
  for (const auto& wanted : reconcile.tasks()) {
    auto it = tasks_.find({framework.id, wanted.task_id().value()});
    if (it != tasks_.end()) {
      report(it->second);
      continue;
    }
    TaskRecord unknown{framework.id, wanted.has_agent_id() ? wanted.agent_id().value() : "", {}, v1::TASK_UNKNOWN, {}, {}};
    *unknown.info.mutable_task_id() = wanted.task_id();
    update_framework(framework.id, master_status(unknown, v1::TASK_UNKNOWN, v1::TaskStatus::REASON_RECONCILIATION,
                                                 "Task is unknown to the master"));
  }
}

}  // namespace berth::master
