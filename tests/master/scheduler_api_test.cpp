// The master's APIs over real HTTP on loopback: a framework speaking the Mesos
// v1 scheduler API (JSON) and an agent speaking the agent protocol (protobuf).

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "berth/agent.pb.h"
#include "berth/common/codec.hpp"
#include "berth/common/http.hpp"
#include "berth/common/recordio.hpp"
#include "berth/common/resources.hpp"
#include "berth/master/master.hpp"
#include "mesos/v1/scheduler.pb.h"

namespace berth::master {
namespace {

namespace asio = boost::asio;
namespace v1 = berth::mesos::v1;
namespace sched = berth::mesos::v1::scheduler;
using namespace std::chrono_literals;

template <typename Event>
struct EventStream {
  std::unique_ptr<http::StreamingResponse> response;
  std::vector<Event> events;
  std::string stream_id;
  bool ended = false;

  const Event* find(typename Event::Type type) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type() == type) return &*it;
    }
    return nullptr;
  }
};

class MasterApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Flags flags;
    flags.port = 0;
    flags.allocation_interval = 0.05;
    flags.heartbeat_interval = 0.2;
    master_ = std::make_unique<Master>(io_.get_executor(), flags);
    ASSERT_TRUE(master_->start());
    endpoint_ = {"127.0.0.1", master_->port()};
  }
  void TearDown() override {
    for (auto* response : {agent.response.get(), framework.response.get()}) {
      if (response) response->close();
    }
    master_->stop();
    run_until([&] { return (!agent.response || agent.ended) && (!framework.response || framework.ended); });
    io_.run_for(50ms);
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(10ms);
    }
    return true;
  }

  template <typename Event, typename Call>
  void subscribe(EventStream<Event>& stream, const std::string& path, const Call& call, codec::Format format) {
    auto request = http::make_request(http::Verb::post, path, codec::encode(format, call),
                                      codec::content_type(format));
    request.set(boost::beast::http::field::accept, codec::content_type(format));
    asio::co_spawn(io_, [&, request, format]() mutable -> asio::awaitable<void> {
      auto opened = co_await http::StreamingResponse::open(endpoint_, std::move(request), 5s);
      if (!opened || (*opened)->status() != http::Status::ok) {
        stream.ended = true;
        co_return;
      }
      stream.response = std::move(*opened);
      stream.stream_id = std::string(stream.response->head()["Mesos-Stream-Id"]);
      recordio::Decoder decoder;
      std::vector<std::string> records;
      for (;;) {
        auto data = co_await stream.response->read_some();
        if (!data) break;
        records.clear();
        if (!decoder.feed(*data, records)) break;
        for (const auto& record : records) {
          Event event;
          if (codec::decode(format, record, event)) stream.events.push_back(std::move(event));
        }
      }
      stream.ended = true;
    }, asio::detached);
  }

  http::Response call(const std::string& path, const google::protobuf::Message& message, codec::Format format,
                      const std::string& stream_id = {}, const std::string& agent_id = {}) {
    auto request = http::make_request(http::Verb::post, path, codec::encode(format, message),
                                      codec::content_type(format));
    if (!stream_id.empty()) request.set("Mesos-Stream-Id", stream_id);
    if (!agent_id.empty()) request.set("Berth-Agent-Id", agent_id);
    std::optional<Result<http::Response>> response;
    asio::co_spawn(io_, [&, request]() mutable -> asio::awaitable<void> {
      response = co_await http::request(endpoint_, std::move(request), 5s);
    }, asio::detached);
    EXPECT_TRUE(run_until([&] { return response.has_value(); }));
    EXPECT_TRUE(response && *response) << (response && !*response ? response->error().what() : "");
    return response && *response ? **response : http::Response{};
  }

  void register_agent(EventStream<agent::Event>& agent) {
    agent::Call call;
    call.set_type(agent::Call::REGISTER);
    auto* info = call.mutable_register_()->mutable_agent_info();
    info->set_hostname("node-1");
    info->set_port(5051);
    *info->mutable_resources() = Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").value().to_proto();
    subscribe(agent, "/api/v1/agent", call, codec::Format::Protobuf);
    ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::REGISTERED) != nullptr; }));
    agent_id_ = agent.find(agent::Event::REGISTERED)->registered().agent_id().value();
  }

  void subscribe_framework(EventStream<sched::Event>& framework) {
    sched::Call call;
    call.set_type(sched::Call::SUBSCRIBE);
    auto* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("root");
    info->set_name("test");
    subscribe(framework, "/api/v1/scheduler", call, codec::Format::Json);
    ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::SUBSCRIBED) != nullptr; }));
    framework_id_ = framework.find(sched::Event::SUBSCRIBED)->subscribed().framework_id().value();
    EXPECT_FALSE(framework.stream_id.empty());
  }

  sched::Call framework_call(sched::Call::Type type) {
    sched::Call call;
    call.set_type(type);
    call.mutable_framework_id()->set_value(framework_id_);
    return call;
  }

  v1::TaskInfo task(const std::string& id, const std::string& resources) {
    v1::TaskInfo task;
    task.set_name(id);
    task.mutable_task_id()->set_value(id);
    task.mutable_agent_id()->set_value(agent_id_);
    *task.mutable_resources() = Resources::parse(resources).value().to_proto();
    task.mutable_command()->set_value("echo hi");
    return task;
  }

  sched::Call accept(const v1::Offer& offer, std::vector<v1::TaskInfo> tasks) {
    auto call = framework_call(sched::Call::ACCEPT);
    *call.mutable_accept()->add_offer_ids() = offer.id();
    auto* op = call.mutable_accept()->add_operations();
    op->set_type(v1::Offer::Operation::LAUNCH);
    for (auto& t : tasks) *op->mutable_launch()->add_task_infos() = t;
    return call;
  }

  asio::io_context io_;
  std::unique_ptr<Master> master_;
  http::Endpoint endpoint_;
  std::string agent_id_;
  std::string framework_id_;
  EventStream<agent::Event> agent;
  EventStream<sched::Event> framework;
};

TEST_F(MasterApiTest, OfferLaunchUpdateAcknowledgeTeardown) {
  register_agent(agent);
  subscribe_framework(framework);

  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);
  EXPECT_EQ(offer.agent_id().value(), agent_id_);
  EXPECT_EQ(offer.hostname(), "node-1");
  EXPECT_EQ(offer.url().address().port(), 5051);
  EXPECT_EQ(Resources::from_proto(offer.resources()).value(),
            Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").value());

  auto response = call("/api/v1/scheduler", accept(offer, {task("t1", "cpus:0.5;mem:128")}),
                       codec::Format::Json, framework.stream_id);
  EXPECT_EQ(response.result(), http::Status::accepted) << response.body();
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK)->run_task().task().task_id().value(), "t1");
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK)->run_task().framework().id().value(), framework_id_);

  agent::Call update;
  update.set_type(agent::Call::STATUS_UPDATE);
  update.mutable_status_update()->mutable_framework_id()->set_value(framework_id_);
  auto* status = update.mutable_status_update()->mutable_status();
  status->mutable_task_id()->set_value("t1");
  status->set_state(v1::TASK_FINISHED);
  status->set_uuid("0123456789abcdef");
  EXPECT_EQ(call("/api/v1/agent", update, codec::Format::Protobuf, {}, agent_id_).result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::UPDATE) != nullptr; }));
  EXPECT_EQ(framework.find(sched::Event::UPDATE)->update().status().state(), v1::TASK_FINISHED);

  auto ack = framework_call(sched::Call::ACKNOWLEDGE);
  ack.mutable_acknowledge()->mutable_agent_id()->set_value(agent_id_);
  ack.mutable_acknowledge()->mutable_task_id()->set_value("t1");
  ack.mutable_acknowledge()->set_uuid("0123456789abcdef");
  EXPECT_EQ(call("/api/v1/scheduler", ack, codec::Format::Json, framework.stream_id).result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::ACKNOWLEDGE) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::ACKNOWLEDGE)->acknowledge().uuid(), "0123456789abcdef");

  EXPECT_EQ(call("/api/v1/scheduler", framework_call(sched::Call::TEARDOWN), codec::Format::Json,
                 framework.stream_id).result(),
            http::Status::accepted);
  EXPECT_TRUE(run_until([&] { return framework.ended; }));
}

TEST_F(MasterApiTest, InvalidTasksGetTaskErrorAndReturnTheirResources) {
  register_agent(agent);
  subscribe_framework(framework);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);

  auto response = call("/api/v1/scheduler", accept(offer, {task("too-big", "cpus:64;mem:128")}),
                       codec::Format::Json, framework.stream_id);
  EXPECT_EQ(response.result(), http::Status::accepted);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::UPDATE) != nullptr; }));
  const auto& status = framework.find(sched::Event::UPDATE)->update().status();
  EXPECT_EQ(status.state(), v1::TASK_ERROR);
  EXPECT_EQ(status.reason(), v1::TaskStatus::REASON_TASK_INVALID);
  EXPECT_NE(status.message().find("cpus"), std::string::npos) << status.message();
  EXPECT_EQ(agent.find(agent::Event::RUN_TASK), nullptr);
}

TEST_F(MasterApiTest, WrongStreamIdIsRefused) {
  subscribe_framework(framework);
  auto response = call("/api/v1/scheduler", framework_call(sched::Call::REVIVE), codec::Format::Json, "bogus");
  EXPECT_EQ(response.result(), http::Status::bad_request);
  EXPECT_NE(response.body().find("stream ID"), std::string::npos) << response.body();
  auto missing = call("/api/v1/scheduler", framework_call(sched::Call::REVIVE), codec::Format::Json);
  EXPECT_EQ(missing.result(), http::Status::bad_request);
}

TEST_F(MasterApiTest, HeartbeatsFlowToFrameworksAndAgents) {
  register_agent(agent);
  subscribe_framework(framework);
  EXPECT_TRUE(run_until([&] {
    return framework.find(sched::Event::HEARTBEAT) != nullptr && agent.find(agent::Event::HEARTBEAT) != nullptr;
  }));
}

TEST_F(MasterApiTest, DisconnectedFrameworkWithoutFailoverTimeoutIsRemovedAndItsTasksShutDown) {
  register_agent(agent);
  subscribe_framework(framework);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  auto offer = framework.find(sched::Event::OFFERS)->offers().offers(0);
  call("/api/v1/scheduler", accept(offer, {task("t1", "cpus:0.5;mem:128")}), codec::Format::Json, framework.stream_id);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::RUN_TASK) != nullptr; }));
  framework.response->close();
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::SHUTDOWN_FRAMEWORK) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::SHUTDOWN_FRAMEWORK)->shutdown_framework().framework_id().value(), framework_id_);
}

TEST_F(MasterApiTest, AgentReRegistrationAfterAMasterRestartKeepsItsTasks) {
  // A fresh master hears of an agent id and its running task for the first time.
  agent::Call call;
  call.set_type(agent::Call::REGISTER);
  auto* info = call.mutable_register_()->mutable_agent_info();
  info->set_hostname("node-1");
  info->set_port(5051);
  info->mutable_id()->set_value("old-agent");
  *info->mutable_resources() = Resources::parse("cpus:2;mem:1024").value().to_proto();
  auto* running = call.mutable_register_()->add_tasks();
  running->mutable_framework_id()->set_value("old-framework");
  agent_id_ = "old-agent";
  *running->mutable_task() = task("t1", "cpus:1;mem:512");
  running->set_state(v1::TASK_RUNNING);
  running->mutable_framework()->set_user("root");
  running->mutable_framework()->set_name("old");
  running->mutable_framework()->set_failover_timeout(60);
  subscribe(agent, "/api/v1/agent", call, codec::Format::Protobuf);
  ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::REGISTERED) != nullptr; }));
  EXPECT_EQ(agent.find(agent::Event::REGISTERED)->registered().agent_id().value(), "old-agent");

  // The framework re-subscribes with its id and is offered only what the task leaves free.
  sched::Call subscribe_call;
  subscribe_call.set_type(sched::Call::SUBSCRIBE);
  auto* framework_info = subscribe_call.mutable_subscribe()->mutable_framework_info();
  framework_info->set_user("root");
  framework_info->set_name("old");
  framework_info->mutable_id()->set_value("old-framework");
  subscribe(framework, "/api/v1/scheduler", subscribe_call, codec::Format::Json);
  ASSERT_TRUE(run_until([&] { return framework.find(sched::Event::OFFERS) != nullptr; }));
  EXPECT_EQ(framework.find(sched::Event::SUBSCRIBED)->subscribed().framework_id().value(), "old-framework");
  auto offered = Resources::from_proto(framework.find(sched::Event::OFFERS)->offers().offers(0).resources()).value();
  EXPECT_EQ(offered, Resources::parse("cpus:1;mem:512").value());
}

}  // namespace
}  // namespace berth::master
