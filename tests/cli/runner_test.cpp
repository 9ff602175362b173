// The Runner against a scripted master and agent on loopback: the scheduler API's
// subscription stream (chunked RecordIO of protobuf Events), its calls, and the
// agent's sandbox file API, all served by Beast in the test's own io_context.

#include "runner.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <csignal>
#include <functional>
#include <map>

#include "latch.hpp"

namespace berth::cli {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::string_view kFrameworkId = "fw-1";

std::string recordio_frame(const google::protobuf::Message& message) {
  std::string data = message.SerializeAsString();
  return std::to_string(data.size()) + "\n" + data;
}

// A master with one agent, both played by the test. Handlers run on the io_context
// thread, like the Runner, so scripts need no locking.
class FakeCluster {
 public:
  explicit FakeCluster(asio::io_context& io) : io_(io), acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Scripts: what happens after SUBSCRIBED went out, and after a call was answered 202.
  std::function<void(int subscription)> on_subscribed;
  std::function<void(const sched::Call&)> on_call;
  unsigned subscribe_status = 200;
  std::map<std::string, std::string> files;  // the task's sandbox: "stdout", "stderr"
  std::size_t chunk_limit = 1 << 20;

  std::vector<sched::Call> calls;
  int subscriptions = 0;

  void push(const sched::Event& event) {
    if (!stream_) return;
    beast::error_code ignored;
    asio::write(*stream_, bhttp::make_chunk(asio::buffer(recordio_frame(event))), ignored);
  }

  void push_offer(double cpus, double mem) {
    sched::Event event;
    event.set_type(sched::Event::OFFERS);
    auto* offer = event.mutable_offers()->add_offers();
    offer->mutable_id()->set_value("offer-" + std::to_string(++offers_));
    offer->mutable_framework_id()->set_value(std::string(kFrameworkId));
    offer->mutable_agent_id()->set_value("agent-1");
    offer->set_hostname("localhost");
    offer->mutable_url()->set_scheme("http");
    offer->mutable_url()->mutable_address()->set_ip("127.0.0.1");
    offer->mutable_url()->mutable_address()->set_port(port());
    for (auto [name, value] : {std::pair<const char*, double>{"cpus", cpus}, {"mem", mem}}) {
      auto* resource = offer->add_resources();
      resource->set_name(name);
      resource->set_type(v1::Value::SCALAR);
      resource->mutable_scalar()->set_value(value);
    }
    push(event);
  }

  // An update for the launched task; with an exit code, labelled as the agent does.
  void push_update(v1::TaskState state, std::optional<int> exit_code = {}, std::string message = {}) {
    sched::Event event;
    event.set_type(sched::Event::UPDATE);
    auto* status = event.mutable_update()->mutable_status();
    status->mutable_task_id()->set_value(task_id());
    status->set_state(state);
    status->mutable_agent_id()->set_value("agent-1");
    status->set_source(v1::TaskStatus::SOURCE_AGENT);
    status->set_uuid("uuid-" + std::to_string(++updates_));
    if (!message.empty()) status->set_message(message);
    if (exit_code) {
      auto* label = status->mutable_labels()->add_labels();
      label->set_key("exit_code");
      label->set_value(std::to_string(*exit_code));
    }
    push(event);
  }

  void drop_stream() {
    if (stream_) stream_->close();
    stream_.reset();
  }

  void stop() {
    acceptor_.close();
    drop_stream();
  }

  std::vector<sched::Call> calls_of(sched::Call::Type type) const {
    std::vector<sched::Call> out;
    for (const auto& call : calls) {
      if (call.type() == type) out.push_back(call);
    }
    return out;
  }

  std::string task_id() const {
    auto accepts = calls_of(sched::Call::ACCEPT);
    if (accepts.empty()) return "no-task";
    return accepts.front().accept().operations(0).launch().task_infos(0).task_id().value();
  }

  // Runs `script` after `delay` on the cluster's thread.
  void after(std::chrono::milliseconds delay, std::function<void()> script) {
    asio::co_spawn(
        io_,
        [delay, script = std::move(script)]() -> asio::awaitable<void> {
          co_await sleep_for(delay);
          script();
        },
        asio::detached);
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [error, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (error) co_return;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> request;
      auto [error, ignored] = co_await bhttp::async_read(socket, buffer, request, asio::as_tuple(asio::use_awaitable));
      if (error) co_return;
      if (request.target().starts_with("/sandbox/")) {
        co_await reply(socket, sandbox(request));
        continue;
      }
      sched::Call call;
      EXPECT_TRUE(call.ParseFromString(request.body()));
      calls.push_back(call);
      if (call.type() == sched::Call::SUBSCRIBE) {
        co_await subscribe(std::move(socket));
        co_return;
      }
      EXPECT_EQ(request["Mesos-Stream-Id"], "stream-" + std::to_string(subscriptions));
      bhttp::response<bhttp::string_body> accepted{bhttp::status::accepted, 11};
      accepted.keep_alive(request.keep_alive());
      co_await reply(socket, std::move(accepted));
      if (on_call) on_call(call);
      if (!request.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> subscribe(tcp::socket socket) {
    if (subscribe_status != 200) {
      bhttp::response<bhttp::string_body> refused{static_cast<bhttp::status>(subscribe_status), 11};
      refused.body() = "Framework is not welcome here";
      refused.keep_alive(false);
      co_await reply(socket, std::move(refused));
      co_return;
    }
    ++subscriptions;
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, "application/x-protobuf");
    head.set("Mesos-Stream-Id", "stream-" + std::to_string(subscriptions));
    head.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    co_await bhttp::async_write_header(socket, serializer, asio::as_tuple(asio::use_awaitable));
    drop_stream();
    stream_.emplace(std::move(socket));
    sched::Event subscribed;
    subscribed.set_type(sched::Event::SUBSCRIBED);
    subscribed.mutable_subscribed()->mutable_framework_id()->set_value(std::string(kFrameworkId));
    subscribed.mutable_subscribed()->set_heartbeat_interval_seconds(15);
    push(subscribed);
    if (on_subscribed) on_subscribed(subscriptions);
  }

  bhttp::response<bhttp::string_body> sandbox(const bhttp::request<bhttp::string_body>& request) {
    std::string target(request.target());
    std::string prefix = "/sandbox/" + std::string(kFrameworkId) + "/" + task_id() + "/";
    auto query = target.find("?offset=");
    bhttp::response<bhttp::string_body> response{bhttp::status::ok, 11};
    response.keep_alive(request.keep_alive());
    auto file = files.find(target.substr(prefix.size(), query - prefix.size()));
    if (!target.starts_with(prefix) || query == std::string::npos || file == files.end()) {
      response.result(bhttp::status::not_found);
      response.body() = "no such file\n";
    } else {
      auto offset = std::min<std::size_t>(std::stoull(target.substr(query + 8)), file->second.size());
      response.body() = file->second.substr(offset, chunk_limit);
      response.set("X-Berth-File-Size", std::to_string(file->second.size()));
    }
    response.prepare_payload();
    return response;
  }

  template <typename Response>
  static asio::awaitable<void> reply(tcp::socket& socket, Response response) {
    response.prepare_payload();
    co_await bhttp::async_write(socket, response, asio::as_tuple(asio::use_awaitable));
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::optional<tcp::socket> stream_;
  int offers_ = 0;
  int updates_ = 0;
};

// What the CLI wrote, captured in memory files big enough for megabytes of output.
class Capture {
 public:
  Capture() : out_(::memfd_create("stdout", 0)), err_(::memfd_create("stderr", 0)) {}
  ~Capture() {
    ::close(out_);
    ::close(err_);
  }
  Console console(bool quiet = false) const { return Console(out_, err_, quiet); }
  std::string out() const { return contents(out_); }
  std::string err() const { return contents(err_); }

 private:
  static std::string contents(int fd) {
    std::string data(static_cast<std::size_t>(::lseek(fd, 0, SEEK_END)), '\0');
    EXPECT_EQ(::pread(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    return data;
  }
  int out_;
  int err_;
};

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() {
    options.command = {"/bin/echo", "hello"};
    options.name = "hello";
  }

  // Runs the CLI against the fake cluster; `during` gets the Runner once it started.
  int run(std::function<void(Runner&)> during = {}) {
    Runner runner(io.get_executor(),
                  RunnerSetup{options, {"127.0.0.1", master_port ? master_port : fake.port()},
                              FrameworkSpec{.user = "tester", .name = "berth-run", .hostname = "localhost",
                                            .role = "*", .failover_timeout_s = 10, .id = std::nullopt},
                              capture.console(options.quiet)});
    int exit_code = -1;
    asio::co_spawn(io, runner.run(), [&](std::exception_ptr error, int code) {
      EXPECT_FALSE(error);
      exit_code = code;
      fake.stop();
      io.stop();
    });
    if (during) during(runner);
    auto start = std::chrono::steady_clock::now();
    io.run_for(30s);
    elapsed = std::chrono::steady_clock::now() - start;
    return exit_code;
  }

  // The usual agent: the task runs, prints, and ends as `final` says.
  void script_task(v1::TaskState final, std::optional<int> exit_code, std::string stdout_text) {
    fake.on_subscribed = [this](int) { fake.push_offer(1, 1024); };
    fake.on_call = [this, final, exit_code, stdout_text](const sched::Call& call) {
      if (call.type() != sched::Call::ACCEPT) return;
      fake.push_update(v1::TASK_STARTING);
      fake.push_update(v1::TASK_RUNNING);
      fake.files["stdout"] = stdout_text;
      fake.files["stderr"] = "";
      fake.after(50ms, [=, this] { fake.push_update(final, exit_code, "done"); });
    };
  }

  asio::io_context io;
  FakeCluster fake{io};
  Capture capture;
  RunOptions options;
  std::uint16_t master_port = 0;
  std::chrono::steady_clock::duration elapsed{};
};

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(RunnerTest, RunsTheTaskPrintsItsOutputAndTearsDown) {
  script_task(v1::TASK_FINISHED, 0, "hello\n");
  EXPECT_EQ(run(), 0);
  EXPECT_EQ(capture.out(), "hello\n");
  auto id = fake.task_id();
  EXPECT_TRUE(id.starts_with("hello-")) << id;
  EXPECT_EQ(capture.err(), "berth: task " + id + " STAGING: launching on agent localhost\n" +
                               "berth: task " + id + " STARTING\n" + "berth: task " + id + " RUNNING\n" +
                               "berth: task " + id + " FINISHED: done\n");

  auto accepts = fake.calls_of(sched::Call::ACCEPT);
  ASSERT_EQ(accepts.size(), 1u);
  EXPECT_EQ(accepts[0].framework_id().value(), kFrameworkId);
  const auto& task = accepts[0].accept().operations(0).launch().task_infos(0);
  EXPECT_EQ(task.agent_id().value(), "agent-1");
  EXPECT_EQ(task.command().value(), "/bin/echo");
  EXPECT_DOUBLE_EQ(scalar_total(task.resources(), "cpus"), 0.1);
  EXPECT_DOUBLE_EQ(scalar_total(task.resources(), "mem"), 32);

  auto acks = fake.calls_of(sched::Call::ACKNOWLEDGE);
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].acknowledge().uuid(), "uuid-1");
  EXPECT_EQ(acks[2].acknowledge().uuid(), "uuid-3");
  EXPECT_EQ(acks[2].acknowledge().task_id().value(), id);
  EXPECT_EQ(fake.calls_of(sched::Call::TEARDOWN).size(), 1u);
  EXPECT_EQ(fake.calls.front().subscribe().framework_info().user(), "tester");
}

TEST_F(RunnerTest, ExitsWithTheTasksExitCodeAndPrintsDuplicatesOnce) {
  fake.on_subscribed = [this](int) { fake.push_offer(1, 1024); };
  fake.on_call = [this](const sched::Call& call) {
    if (call.type() != sched::Call::ACCEPT) return;
    fake.push_update(v1::TASK_RUNNING);
    fake.push_update(v1::TASK_RUNNING);
    fake.files["stderr"] = "oops\n";
    fake.after(100ms, [this] {
      fake.push_update(v1::TASK_FAILED, 3, "Command exited with status 3");
      fake.push_update(v1::TASK_FAILED, 3, "Command exited with status 3");
    });
  };
  EXPECT_EQ(run(), 3);
  auto err = capture.err();
  EXPECT_EQ(count(err, " RUNNING"), 1u) << err;
  EXPECT_EQ(count(err, "FAILED (exit code 3): Command exited with status 3\n"), 1u) << err;
  EXPECT_NE(err.find("oops\nberth: task " + fake.task_id() + " FAILED"), std::string::npos)
      << "the task's stderr comes before its final line:\n" << err;
  auto acks = fake.calls_of(sched::Call::ACKNOWLEDGE);
  ASSERT_GE(acks.size(), 3u);
  EXPECT_EQ(acks[1].acknowledge().uuid(), "uuid-2") << "duplicates are acknowledged too";
}

TEST_F(RunnerTest, CopiesMegabytesOfOutputCompleteAndInOrder) {
  std::string big;
  for (int i = 0; big.size() < (3 << 20); ++i) big += "line " + std::to_string(i) + "\n";
  fake.chunk_limit = 64 << 10;
  fake.on_subscribed = [this](int) { fake.push_offer(1, 1024); };
  fake.on_call = [&, this](const sched::Call& call) {
    if (call.type() != sched::Call::ACCEPT) return;
    fake.push_update(v1::TASK_RUNNING);
    fake.files["stderr"] = "";
    // The file grows while the task runs; the rest comes after the final update.
    fake.files["stdout"] = big.substr(0, big.size() / 3);
    fake.after(300ms, [&, this] { fake.files["stdout"] = big.substr(0, 2 * big.size() / 3); });
    fake.after(600ms, [&, this] {
      fake.files["stdout"] = big;
      fake.files["stderr"] = "warning: done\n";
      fake.push_update(v1::TASK_FINISHED, 0);
    });
  };
  EXPECT_EQ(run(), 0);
  auto out = capture.out();
  EXPECT_EQ(out.size(), big.size());
  EXPECT_TRUE(out == big) << "output differs from what the task wrote";
  EXPECT_NE(capture.err().find("warning: done\n"), std::string::npos);
}

TEST_F(RunnerTest, GivesUpWhenNoOfferFitsNamingTheBestOne) {
  options.cpus = 4;
  options.offer_timeout_s = 0.5;
  fake.on_subscribed = [this](int) {
    fake.push_offer(1, 1024);
    fake.push_offer(2, 64);
  };
  EXPECT_EQ(run(), 1);
  EXPECT_NE(capture.err().find("no offer satisfied cpus:4;mem:32 within 0.5 s; the best of 2 offer(s) "
                               "(agent agent-1 on localhost) had cpus:2;mem:64"),
            std::string::npos)
      << capture.err();
  EXPECT_TRUE(fake.calls_of(sched::Call::ACCEPT).empty());
  auto declines = fake.calls_of(sched::Call::DECLINE);
  ASSERT_EQ(declines.size(), 2u);
  EXPECT_DOUBLE_EQ(declines[0].decline().filters().refuse_seconds(), 1);
  EXPECT_EQ(fake.calls_of(sched::Call::TEARDOWN).size(), 1u);
}

TEST_F(RunnerTest, ExitsWhenTheMasterCannotBeReached) {
  {
    tcp::acceptor closed(io, {asio::ip::make_address("127.0.0.1"), 0});
    master_port = closed.local_endpoint().port();
  }
  options.master_timeout_s = 0.5;
  EXPECT_EQ(run(), 1);
  EXPECT_LT(elapsed, 5s);
  auto err = capture.err();
  EXPECT_EQ(count(err, "cannot reach master"), 1u) << err;
  EXPECT_NE(err.find("could not reach master 127.0.0.1:" + std::to_string(master_port) + " within 0.5 s"),
            std::string::npos)
      << err;
}

TEST_F(RunnerTest, RefusedSubscriptionEndsAtOnce) {
  fake.subscribe_status = 400;
  EXPECT_EQ(run(), 1);
  EXPECT_LT(elapsed, 5s);
  EXPECT_NE(capture.err().find("refused the subscription"), std::string::npos) << capture.err();
  EXPECT_NE(capture.err().find("Framework is not welcome here"), std::string::npos) << capture.err();
}

TEST_F(RunnerTest, ResubscribesAfterALostStreamWithoutRelaunching) {
  fake.on_subscribed = [this](int subscription) {
    if (subscription == 1) fake.push_offer(1, 1024);
    if (subscription == 2) {
      fake.push_offer(1, 1024);
      fake.push_update(v1::TASK_FINISHED, 0);
    }
  };
  fake.on_call = [this](const sched::Call& call) {
    if (call.type() != sched::Call::ACCEPT) return;
    fake.push_update(v1::TASK_RUNNING);
    fake.files["stdout"] = "still here\n";
    fake.after(100ms, [this] { fake.drop_stream(); });
  };
  EXPECT_EQ(run(), 0);
  EXPECT_EQ(fake.subscriptions, 2);
  EXPECT_EQ(fake.calls_of(sched::Call::ACCEPT).size(), 1u);
  auto subscribes = fake.calls_of(sched::Call::SUBSCRIBE);
  ASSERT_EQ(subscribes.size(), 2u);
  EXPECT_FALSE(subscribes[0].subscribe().framework_info().has_id());
  EXPECT_EQ(subscribes[1].subscribe().framework_info().id().value(), kFrameworkId);
  EXPECT_EQ(capture.out(), "still here\n");
  auto err = capture.err();
  EXPECT_NE(err.find("lost the subscription to master"), std::string::npos) << err;
  EXPECT_NE(err.find("re-subscribed to master"), std::string::npos) << err;
  EXPECT_NE(err.find(" FINISHED"), std::string::npos) << err;
  auto declines = fake.calls_of(sched::Call::DECLINE);
  ASSERT_EQ(declines.size(), 1u) << "the offer after the launch is declined";
}

TEST_F(RunnerTest, SignalKillsTheTaskThenExitsWith128PlusSignal) {
  fake.on_subscribed = [this](int) { fake.push_offer(1, 1024); };
  fake.on_call = [this](const sched::Call& call) {
    if (call.type() == sched::Call::ACCEPT) fake.push_update(v1::TASK_RUNNING);
    if (call.type() == sched::Call::KILL) {
      EXPECT_EQ(call.kill().task_id().value(), fake.task_id());
      EXPECT_EQ(call.kill().agent_id().value(), "agent-1");
      fake.after(50ms, [this] { fake.push_update(v1::TASK_KILLED, 143, "Command terminated with SIGTERM"); });
    }
  };
  EXPECT_EQ(run([this](Runner& runner) { fake.after(300ms, [&runner] { runner.interrupt(SIGTERM); }); }), 143);
  auto err = capture.err();
  EXPECT_NE(err.find("SIGTERM: killing task"), std::string::npos) << err;
  EXPECT_NE(err.find("KILLED (exit code 143)"), std::string::npos) << err;
  EXPECT_EQ(fake.calls_of(sched::Call::KILL).size(), 1u);
  EXPECT_EQ(fake.calls_of(sched::Call::TEARDOWN).size(), 1u);
}

TEST_F(RunnerTest, SignalBeforeAnyOfferJustTearsDown) {
  EXPECT_EQ(run([this](Runner& runner) { fake.after(200ms, [&runner] { runner.interrupt(SIGINT); }); }), 130);
  EXPECT_TRUE(fake.calls_of(sched::Call::KILL).empty());
  EXPECT_EQ(fake.calls_of(sched::Call::TEARDOWN).size(), 1u);
}

TEST_F(RunnerTest, KillAfterKillsARunningTask) {
  options.kill_after_s = 0.3;
  options.quiet = true;
  fake.on_subscribed = [this](int) { fake.push_offer(1, 1024); };
  fake.on_call = [this](const sched::Call& call) {
    if (call.type() == sched::Call::ACCEPT) fake.push_update(v1::TASK_RUNNING);
    if (call.type() == sched::Call::KILL) fake.push_update(v1::TASK_KILLED);
  };
  EXPECT_EQ(run(), 137);
  EXPECT_EQ(fake.calls_of(sched::Call::KILL).size(), 1u);
  auto err = capture.err();
  EXPECT_NE(err.find("killing task " + fake.task_id() + " after 0.3 s (--kill_after)"), std::string::npos) << err;
  EXPECT_EQ(err.find("RUNNING"), std::string::npos) << "--quiet prints no status lines:\n" << err;
}

TEST_F(RunnerTest, MasterErrorEventAborts) {
  fake.on_subscribed = [this](int) {
    sched::Event error;
    error.set_type(sched::Event::ERROR);
    error.mutable_error()->set_message("Framework has been removed");
    fake.push(error);
  };
  EXPECT_EQ(run(), 1);
  EXPECT_NE(capture.err().find("reported an error: Framework has been removed"), std::string::npos);
}

}  // namespace
}  // namespace berth::cli
