// A framework that subscribes and then stops reading its event stream must
// not make the master's memory grow without bound: once more than
// --max_event_stream_bytes wait for it, its stream is cut off (and, with no
// failover timeout, the framework removed). A framework that reads along,
// under the same stream of events, stays.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <optional>
#include <thread>

#include "master_api_fixture.hpp"

namespace berth::master::testing {
namespace {

namespace json = boost::json;

class SlowSubscriberTest : public MasterApiTest {
 protected:
  Flags master_flags() override {
    auto flags = MasterApiTest::master_flags();
    flags.max_event_stream_bytes = 64 << 10;
    return flags;
  }
};

// Subscribes over a raw socket with a small receive buffer, reads the head
// and the SUBSCRIBED record, and then never reads again.
struct StalledSubscriber {
  int fd = -1;
  std::string stream_id;
  std::string framework_id;
  ~StalledSubscriber() {
    if (fd >= 0) ::close(fd);
  }
};

TEST_F(SlowSubscriberTest, ASubscriberThatStopsReadingIsCutOff) {
  StalledSubscriber stalled;
  std::optional<bool> ready;
  std::thread client([&] {
    stalled.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(stalled.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(endpoint_.port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(stalled.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ready = false;
      return;
    }
    std::string body = R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"stalled"}}})";
    std::string request = "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Accept: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
    ::send(stalled.fd, request.data(), request.size(), 0);
    std::string received;
    char buffer[512];
    while (received.find("framework_id") == std::string::npos ||
           received.find('}', received.find("framework_id")) == std::string::npos) {
      auto n = ::recv(stalled.fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        ready = false;
        return;
      }
      received.append(buffer, static_cast<std::size_t>(n));
    }
    auto at = received.find("Mesos-Stream-Id: ");
    stalled.stream_id = received.substr(at + 17, received.find("\r\n", at) - at - 17);
    auto id = received.find(R"("framework_id":{"value":")");
    stalled.framework_id = received.substr(id + 25, received.find('"', id + 25) - id - 25);
    ready = true;
  });
  ASSERT_TRUE(run_until([&] { return ready.has_value(); }));
  client.join();
  ASSERT_TRUE(*ready);

  subscribe_framework(framework);  // this one reads

  // Each explicit RECONCILE of 50 unknown tasks queues 50 updates, about
  // 10 KiB: less than the limit at once, much more over the rounds.
  auto reconcile_call = [](const std::string& framework_id) {
    sched::Call reconcile;
    reconcile.set_type(sched::Call::RECONCILE);
    reconcile.mutable_framework_id()->set_value(framework_id);
    for (int i = 0; i < 50; ++i) {
      reconcile.mutable_reconcile()->add_tasks()->mutable_task_id()->set_value("unknown-task-" + std::to_string(i));
    }
    return reconcile;
  };
  bool cut_off = false;
  for (int round = 0; round < 2000 && !cut_off; ++round) {
    auto response = call("/api/v1/scheduler", reconcile_call(stalled.framework_id), codec::Format::Json,
                         stalled.stream_id);
    cut_off = response.result() == http::Status::forbidden;  // no longer subscribed
    ASSERT_EQ(call("/api/v1/scheduler", reconcile_call(framework_id_), codec::Format::Json, framework.stream_id)
                  .result(),
              http::Status::accepted)
        << "the framework that reads was cut off at round " << round;
  }
  EXPECT_TRUE(cut_off) << "the stalled framework was never cut off";
  auto state = json::parse(send_request(http::Verb::get, "/state").body());
  ASSERT_EQ(state.at("frameworks").as_array().size(), 1u) << "the stalled one removed: it had no failover timeout";
  EXPECT_EQ(state.at("frameworks").at(0).at("id").as_string(), framework_id_);
  auto metrics = send_request(http::Verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("berth_master_slow_subscribers_total 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace berth::master::testing
