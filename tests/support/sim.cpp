#include "support/sim.hpp"

#include <fmt/format.h>

#include <random>

#include "berth/common/codec.hpp"
#include "berth/common/recordio.hpp"
#include "berth/common/resources.hpp"
#include "berth/common/task_state.hpp"

namespace berth::testing {

using namespace std::chrono_literals;

namespace {

std::string random_uuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(16, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// The records of a RecordIO stream as they arrive, decoded as `Event`.
template <typename Event, typename Handle>
asio::awaitable<Result<void>> read_events(http::StreamingResponse& stream, codec::Format format, Handle handle) {
  recordio::Decoder decoder;
  std::vector<std::string> records;
  for (;;) {
    auto data = co_await stream.read_some();
    if (!data) co_return Result<void>{};  // the stream ended
    records.clear();
    if (auto fed = decoder.feed(*data, records); !fed) co_return fail(std::move(fed).error());
    for (const auto& record : records) {
      Event event;
      if (auto decoded = codec::decode(format, record, event); !decoded) co_return fail(std::move(decoded).error());
      handle(std::move(event));
    }
  }
}

}  // namespace

v1::TaskInfo sim_task(const v1::Offer& offer, const std::string& id, const std::string& resources) {
  v1::TaskInfo task;
  task.set_name(id);
  task.mutable_task_id()->set_value(id);
  *task.mutable_agent_id() = offer.agent_id();
  *task.mutable_resources() = Resources::parse(resources).value().to_proto();
  task.mutable_command()->set_value("/bin/true");
  task.mutable_command()->set_shell(false);
  task.mutable_command()->add_arguments("true");
  return task;
}

SimAgent::SimAgent(asio::any_io_executor executor, http::Endpoint master, std::string hostname,
                   std::string resources, bool finish_tasks)
    : executor_(std::move(executor)),
      master_(std::move(master)),
      hostname_(std::move(hostname)),
      resources_(std::move(resources)),
      finish_tasks_(finish_tasks) {}

asio::awaitable<Result<void>> SimAgent::run() {
  agent::Call call;
  call.set_type(agent::Call::REGISTER);
  auto* info = call.mutable_register_()->mutable_agent_info();
  info->set_hostname(hostname_);
  info->set_port(5051);
  *info->mutable_resources() = Resources::parse(resources_).value().to_proto();
  auto request = http::make_request(http::Verb::post, "/api/v1/agent", call.SerializeAsString(), codec::kProtobufType);
  request.set(boost::beast::http::field::accept, codec::kProtobufType);
  auto opened = co_await http::StreamingResponse::open(master_, std::move(request), 30s);
  if (!opened) co_return fail(std::move(opened).error());
  stream_ = std::move(*opened);
  if (stream_->status() != http::Status::ok) co_return fail(fmt::format("REGISTER answered {}", int(stream_->status())));
  co_return co_await read_events<agent::Event>(*stream_, codec::Format::Protobuf, [&](agent::Event event) {
    if (event.type() == agent::Event::REGISTERED) id_ = event.registered().agent_id().value();
    if (event.type() != agent::Event::RUN_TASK) return;
    ++tasks_run_;
    auto framework = event.run_task().framework().id();
    auto task = event.run_task().task().task_id();
    asio::co_spawn(executor_, report(framework, task, v1::TASK_RUNNING), asio::detached);
  });
}

asio::awaitable<void> SimAgent::report(v1::FrameworkID framework, v1::TaskID task, v1::TaskState state) {
  agent::Call call;
  call.set_type(agent::Call::STATUS_UPDATE);
  call.mutable_agent_id()->set_value(id_);
  *call.mutable_status_update()->mutable_framework_id() = framework;
  auto* status = call.mutable_status_update()->mutable_status();
  *status->mutable_task_id() = task;
  status->set_state(state);
  status->set_source(v1::TaskStatus::SOURCE_AGENT);
  status->mutable_agent_id()->set_value(id_);
  status->set_uuid(random_uuid());
  auto request = http::make_request(http::Verb::post, "/api/v1/agent", call.SerializeAsString(), codec::kProtobufType);
  request.set("Berth-Agent-Id", id_);
  (void)co_await http::request(master_, std::move(request), 10s);
  if (state == v1::TASK_RUNNING && finish_tasks_) co_await report(framework, task, v1::TASK_FINISHED);
}

void SimAgent::close() {
  if (stream_) stream_->close();
}

SimFramework::SimFramework(asio::any_io_executor executor, http::Endpoint master, std::string name, Policy policy,
                           OnUpdate on_update)
    : executor_(std::move(executor)),
      master_(std::move(master)),
      name_(std::move(name)),
      policy_(std::move(policy)),
      on_update_(std::move(on_update)) {}

void SimFramework::keep_subscribed(double failover_timeout_seconds) {
  keep_subscribed_ = true;
  failover_timeout_ = failover_timeout_seconds;
}

asio::awaitable<Result<void>> SimFramework::run() {
  for (;;) {
    auto ended = co_await subscribe_once();
    if (closed_ || !keep_subscribed_) co_return ended;
    stream_id_.clear();
    asio::steady_timer pause(executor_, 200ms);
    co_await pause.async_wait(asio::use_awaitable);
    if (closed_) co_return ended;
  }
}

asio::awaitable<void> SimFramework::reconcile_until_heard(std::uint64_t subscription) {
  for (;;) {
    asio::steady_timer pause(executor_, 1s);
    co_await pause.async_wait(asio::use_awaitable);
    if (closed_ || subscription != subscriptions_ || stream_id_.empty()) co_return;
    sched::Call call;
    call.set_type(sched::Call::RECONCILE);
    *call.mutable_framework_id() = id_;
    for (const auto& [id, task] : launched_) {
      if (task.heard || is_terminal(task.state)) continue;
      auto* wanted = call.mutable_reconcile()->add_tasks();
      wanted->mutable_task_id()->set_value(id);
      *wanted->mutable_agent_id() = task.agent_id;
    }
    if (call.reconcile().tasks_size() == 0) co_return;
    (void)co_await post(std::move(call));
  }
}

asio::awaitable<Result<void>> SimFramework::subscribe_once() {
  sched::Call call;
  call.set_type(sched::Call::SUBSCRIBE);
  auto* info = call.mutable_subscribe()->mutable_framework_info();
  info->set_user("root");
  info->set_name(name_);
  if (!id_.value().empty()) {
    *info->mutable_id() = id_;
    *call.mutable_framework_id() = id_;
  }
  if (failover_timeout_ > 0) info->set_failover_timeout(failover_timeout_);
  auto request =
      http::make_request(http::Verb::post, "/api/v1/scheduler", call.SerializeAsString(), codec::kProtobufType);
  request.set(boost::beast::http::field::accept, codec::kProtobufType);
  auto opened = co_await http::StreamingResponse::open(master_, std::move(request), 30s);
  if (!opened) co_return fail(std::move(opened).error());
  stream_ = std::move(*opened);
  if (stream_->status() != http::Status::ok) co_return fail(fmt::format("SUBSCRIBE answered {}", int(stream_->status())));
  stream_id_ = std::string(stream_->head()["Mesos-Stream-Id"]);
  co_return co_await read_events<sched::Event>(*stream_, codec::Format::Protobuf, [&](sched::Event event) {
    auto now = Clock::now();
    switch (event.type()) {
      case sched::Event::SUBSCRIBED:
        id_ = event.subscribed().framework_id();
        if (++subscriptions_ > 1) {
          for (auto& [id, task] : launched_) task.heard = false;
          asio::co_spawn(executor_, reconcile_until_heard(subscriptions_), asio::detached);
        }
        break;
      case sched::Event::OFFERS:
        offers_ += static_cast<std::size_t>(event.offers().offers_size());
        asio::co_spawn(executor_, answer_offers(event.offers()), asio::detached);
        break;
      case sched::Event::UPDATE:
        ++updates_;
        if (auto it = launched_.find(event.update().status().task_id().value()); it != launched_.end()) {
          it->second.state = event.update().status().state();
          it->second.heard = true;
        }
        if (on_update_) on_update_(event.update().status(), now);
        if (!event.update().status().uuid().empty()) {
          asio::co_spawn(executor_, acknowledge(event.update().status()), asio::detached);
        }
        break;
      default:
        break;
    }
  });
}

asio::awaitable<void> SimFramework::answer_offers(sched::Event::Offers offers) {
  for (const auto& offer : offers.offers()) {
    auto tasks = policy_(offer);
    sched::Call call;
    *call.mutable_framework_id() = id_;
    if (tasks.empty()) {
      call.set_type(sched::Call::DECLINE);
      *call.mutable_decline()->add_offer_ids() = offer.id();
      call.mutable_decline()->mutable_filters()->set_refuse_seconds(0);
    } else {
      call.set_type(sched::Call::ACCEPT);
      *call.mutable_accept()->add_offer_ids() = offer.id();
      auto* op = call.mutable_accept()->add_operations();
      op->set_type(v1::Offer::Operation::LAUNCH);
      for (auto& task : tasks) {
        launched_[task.task_id().value()] = {offer.agent_id(), v1::TASK_STAGING, true};
        *op->mutable_launch()->add_task_infos() = std::move(task);
      }
      call.mutable_accept()->mutable_filters()->set_refuse_seconds(0);
    }
    (void)co_await post(std::move(call));
  }
}

asio::awaitable<void> SimFramework::acknowledge(v1::TaskStatus status) {
  sched::Call call;
  call.set_type(sched::Call::ACKNOWLEDGE);
  *call.mutable_framework_id() = id_;
  *call.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
  *call.mutable_acknowledge()->mutable_task_id() = status.task_id();
  call.mutable_acknowledge()->set_uuid(status.uuid());
  (void)co_await post(std::move(call));
}

asio::awaitable<Result<void>> SimFramework::post(sched::Call call) {
  auto request =
      http::make_request(http::Verb::post, "/api/v1/scheduler", call.SerializeAsString(), codec::kProtobufType);
  request.set("Mesos-Stream-Id", stream_id_);
  auto response = co_await http::request(master_, std::move(request), 10s);
  if (!response) co_return fail(std::move(response).error());
  if (response->result() != http::Status::accepted) {
    co_return fail(fmt::format("{} answered {}: {}", sched::Call::Type_Name(call.type()), int(response->result()),
                               response->body()));
  }
  co_return Result<void>{};
}

void SimFramework::close() {
  closed_ = true;
  if (stream_) stream_->close();
}

bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace berth::testing
