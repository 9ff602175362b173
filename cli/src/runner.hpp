#pragma once
// One `berth run` as a framework of its own: subscribe, wait for an offer the task
// fits in, launch it, report its updates and copy its output until it ends, then
// tear the framework down so the master forgets it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "berth/common/http.hpp"
#include "console.hpp"
#include "latch.hpp"
#include "master_client.hpp"
#include "offer_match.hpp"
#include "run_options.hpp"
#include "scheduler_calls.hpp"
#include "task_status.hpp"

namespace berth::cli {

namespace asio = boost::asio;

struct RunnerSetup {
  RunOptions options;
  http::Endpoint master;
  FrameworkSpec framework;  // its id is filled in once subscribed
  Console console;
  MasterClient::LeaderLookup leader = {};  // --master=zk://...: where the leader is now
};

class Runner {
 public:
  Runner(asio::any_io_executor executor, RunnerSetup setup);
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs to the end; returns the exit code for the process: the task's, or 1 when
  // it could not be run, or 128 + the signal after interrupt().
  asio::awaitable<int> run();

  // SIGINT/SIGTERM: kill the task, give it 10 s to end, tear down. A second
  // signal stops waiting.
  void interrupt(int signo);

 private:
  enum class Phase { WaitingForOffer, Launched };

  // Why a subscription ended, and whether the master had confirmed it first.
  struct SessionEnd {
    SubscribeError why;
    bool was_subscribed = false;
  };

  asio::awaitable<void> subscription_loop();
  asio::awaitable<SessionEnd> session();
  asio::awaitable<Error> follow_events();
  asio::awaitable<void> handle(const sched::Event& event);
  void on_subscribed(const sched::Event::Subscribed& subscribed);
  asio::awaitable<void> on_offers(const OfferList& offers);
  asio::awaitable<void> launch(const v1::Offer& offer);
  asio::awaitable<void> on_update(const v1::TaskStatus& status);
  void report(const v1::TaskStatus& status);

  asio::awaitable<void> watch_offer_timeout();
  asio::awaitable<void> kill_after();
  asio::awaitable<void> on_interrupt(int signo);
  asio::awaitable<void> send_kill();
  asio::awaitable<void> follow_output(http::Endpoint agent);
  asio::awaitable<void> teardown();
  asio::awaitable<void> decline(const OfferList& offers, std::optional<int> keep, double refuse_seconds);

  asio::awaitable<Result<void>> send(const sched::Call& call);
  void spawn(asio::awaitable<void> task);
  void finish(int exit_code);
  const std::string& task_id() const { return task_->task_id().value(); }

  asio::any_io_executor executor_;
  RunOptions options_;
  FrameworkSpec framework_;
  Console console_;
  Ask ask_;
  std::string master_name_;  // host:port, for messages
  MasterClient master_;

  std::chrono::milliseconds idle_timeout_{0};
  bool subscribed_once_ = false;
  bool session_subscribed_ = false;
  bool master_lost_ = false;  // gave up on the master: nothing left to tear down
  Phase phase_ = Phase::WaitingForOffer;
  BestOffer best_offer_;
  std::optional<v1::TaskInfo> task_;
  StateTracker tracker_;
  std::optional<v1::TaskStatus> final_status_;
  bool kill_requested_ = false;
  int interrupted_ = 0;
  std::optional<int> exit_code_;

  Latch done_;
  Latch final_;
  Latch output_done_;
  bool following_output_ = false;
};

}  // namespace berth::cli
