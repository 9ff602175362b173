#pragma once
// Simulated parties for the master benchmarks and end-to-end tests, on one io_context: agents
// that speak the agent protocol and answer every task at once (RUNNING, then
// FINISHED if asked), and frameworks that speak the Mesos v1 scheduler API
// and launch tasks from their offers by a policy of the benchmark's.

#include <boost/asio.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/agent.pb.h"
#include "berth/common/error.hpp"
#include "berth/common/http.hpp"
#include "mesos/v1/scheduler.pb.h"

namespace berth::testing {

namespace asio = boost::asio;
namespace v1 = berth::mesos::v1;
namespace sched = berth::mesos::v1::scheduler;
using Clock = std::chrono::steady_clock;

class SimAgent {
 public:
  SimAgent(asio::any_io_executor executor, http::Endpoint master, std::string hostname, std::string resources,
           bool finish_tasks);
  // Registers and serves the master's events until the stream ends.
  asio::awaitable<Result<void>> run();
  void close();
  bool registered() const { return !id_.empty(); }
  std::size_t tasks_run() const { return tasks_run_; }

 private:
  asio::awaitable<void> report(v1::FrameworkID framework, v1::TaskID task, v1::TaskState state);

  asio::any_io_executor executor_;
  http::Endpoint master_;
  std::string hostname_;
  std::string resources_;
  bool finish_tasks_;
  std::string id_;
  std::unique_ptr<http::StreamingResponse> stream_;
  std::size_t tasks_run_ = 0;
};

class SimFramework {
 public:
  // Decides what to launch on an offer (empty: decline it).
  using Policy = std::function<std::vector<v1::TaskInfo>(const v1::Offer& offer)>;
  // Called with each status update as it arrives, and the time it did.
  using OnUpdate = std::function<void(const v1::TaskStatus& status, Clock::time_point at)>;

  SimFramework(asio::any_io_executor executor, http::Endpoint master, std::string name, Policy policy,
               OnUpdate on_update);
  // Subscribes and serves events until the stream ends or close(); with
  // keep_subscribed, until close() only.
  asio::awaitable<Result<void>> run();
  // Subscribes again whenever the stream ends (a master restarted or failed
  // over), under the same framework id, and then reconciles the tasks it
  // launched that are not over, every second, until it has heard of each of
  // them (Mesos's reconciliation algorithm). Call before run().
  void keep_subscribed(double failover_timeout_seconds);
  void close();
  bool subscribed() const { return !stream_id_.empty(); }
  std::size_t offers() const { return offers_; }
  std::size_t updates() const { return updates_; }
  std::uint64_t subscriptions() const { return subscriptions_; }  // SUBSCRIBED events so far

 private:
  asio::awaitable<Result<void>> subscribe_once();
  asio::awaitable<void> reconcile_until_heard(std::uint64_t subscription);
  asio::awaitable<void> answer_offers(sched::Event::Offers offers);
  asio::awaitable<void> acknowledge(v1::TaskStatus status);
  asio::awaitable<Result<void>> post(sched::Call call);

  asio::any_io_executor executor_;
  http::Endpoint master_;
  std::string name_;
  Policy policy_;
  OnUpdate on_update_;
  std::string stream_id_;
  v1::FrameworkID id_;
  std::unique_ptr<http::StreamingResponse> stream_;
  std::size_t offers_ = 0;
  std::size_t updates_ = 0;
  bool keep_subscribed_ = false;
  double failover_timeout_ = 0;
  bool closed_ = false;
  std::uint64_t subscriptions_ = 0;
  struct Launched {
    v1::AgentID agent_id;
    v1::TaskState state = v1::TASK_STAGING;
    bool heard = true;  // since the latest subscription
  };
  std::map<std::string, Launched> launched_;  // by task id
};

// A task of `resources` on the offer's agent, with a no-op command.
v1::TaskInfo sim_task(const v1::Offer& offer, const std::string& id, const std::string& resources);

// Runs `io` until `done` or `timeout`.
bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace berth::testing
