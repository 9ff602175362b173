#pragma once
// A master on loopback with a framework speaking the Mesos v1 scheduler API
// (JSON) and an agent speaking the agent protocol (protobuf), both over real
// HTTP, driven from the test's own io_context.

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "berth/agent.pb.h"
#include "berth/common/codec.hpp"
#include "berth/common/http.hpp"
#include "berth/common/recordio.hpp"
#include "berth/common/resource_pools.hpp"
#include "berth/common/resources.hpp"
#include "berth/master/master.hpp"
#include "mesos/v1/scheduler.pb.h"

namespace berth::master::testing {

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
  virtual Flags master_flags() {
    Flags flags;
    flags.port = 0;
    flags.allocation_interval = 0.05;
    flags.heartbeat_interval = 0.2;
    return flags;
  }

  void SetUp() override {
    start_master(master_flags());
  }

  void start_master(Flags flags) {
    if (io_.stopped()) io_.restart();  // it ran out of work when a previous master stopped
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

  // A plain request to the master (operator endpoints).
  http::Response send_request(http::Verb verb, const std::string& target, std::string body = {},
                              std::string_view content_type = "application/json") {
    auto request = http::make_request(verb, target, std::move(body), content_type);
    std::optional<Result<http::Response>> response;
    asio::co_spawn(io_, [&, request]() mutable -> asio::awaitable<void> {
      response = co_await http::request(endpoint_, std::move(request), 5s);
    }, asio::detached);
    EXPECT_TRUE(run_until([&] { return response.has_value(); }));
    return response && *response ? **response : http::Response{};
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

  void register_agent(EventStream<agent::Event>& agent,
                      const std::string& resources = "cpus:2;mem:1024;ports:[31000-31010]") {
    agent::Call call;
    call.set_type(agent::Call::REGISTER);
    auto* info = call.mutable_register_()->mutable_agent_info();
    info->set_hostname("node-1");
    info->set_port(5051);
    *info->mutable_resources() =
        ResourcePools::parse(resources).value().to_proto(ResourcePools::Format::post_refinement);
    subscribe(agent, "/api/v1/agent", call, codec::Format::Protobuf);
    ASSERT_TRUE(run_until([&] { return agent.find(agent::Event::REGISTERED) != nullptr; }));
    agent_id_ = agent.find(agent::Event::REGISTERED)->registered().agent_id().value();
  }

  // Agent agent_id_ registering again on `stream`, reporting task t1 (as
  // task("t1", "cpus:0.5;mem:128") made it) running if `with_t1`.
  void reregister_agent(EventStream<agent::Event>& stream, bool with_t1) {
    agent::Call call;
    call.set_type(agent::Call::REGISTER);
    auto* info = call.mutable_register_()->mutable_agent_info();
    info->set_hostname("node-1");
    info->set_port(5051);
    info->mutable_id()->set_value(agent_id_);
    *info->mutable_resources() = Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").value().to_proto();
    if (with_t1) {
      auto* running = call.mutable_register_()->add_tasks();
      running->mutable_framework_id()->set_value(framework_id_);
      *running->mutable_task() = task("t1", "cpus:0.5;mem:128");
      running->set_state(v1::TASK_RUNNING);
    }
    subscribe(stream, "/api/v1/agent", call, codec::Format::Protobuf);
    ASSERT_TRUE(run_until([&] { return stream.find(agent::Event::REGISTERED) != nullptr; }));
  }

  // `customize` edits the SUBSCRIBE call (roles, capabilities) before it goes.
  void subscribe_framework(EventStream<sched::Event>& framework,
                           const std::function<void(sched::Call&)>& customize = {}) {
    sched::Call call;
    call.set_type(sched::Call::SUBSCRIBE);
    auto* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("root");
    info->set_name("test");
    if (customize) customize(call);
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

}  // namespace berth::master::testing
