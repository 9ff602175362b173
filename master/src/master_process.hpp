#pragma once
// The master's state and behaviour. One instance runs on one io_context thread;
// every handler and timer is a coroutine on it, so no locking is needed.
// The implementation is split by concern: master.cpp (lifecycle, timers),
// offers.cpp (allocation rounds into offers, and their end),
// scheduler_api.cpp (subscriptions and the call dispatch), scheduler_calls.cpp
// (each framework call), agent_api.cpp (agent calls), operator_api.cpp
// (roles, weights and quota), state_json.cpp (/state and /metrics).

#include <boost/asio.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "berth/agent.pb.h"
#include "berth/common/codec.hpp"
#include "berth/common/clock.hpp"
#include "berth/common/http.hpp"
#include "berth/common/leader_watch.hpp"
#include "berth/common/metrics.hpp"
#include "berth/common/resource_pools.hpp"
#include "berth/common/resources.hpp"
#include "berth/master/allocator.hpp"
#include "berth/master/flags.hpp"
#include "framework_roles.hpp"
#include "request.hpp"
#include "mesos/v1/mesos.pb.h"
#include "mesos/v1/scheduler.pb.h"

namespace berth::master {

namespace asio = boost::asio;
namespace v1 = berth::mesos::v1;
namespace sched = berth::mesos::v1::scheduler;
using Clock = std::chrono::steady_clock;
using TaskKey = std::pair<std::string, std::string>;  // framework id, task id
using ExecutorKey = std::tuple<std::string, std::string, std::string>;  // framework, agent, executor id

struct TaskRecord {
  std::string framework_id;
  std::string agent_id;
  v1::TaskInfo info;
  v1::TaskState state = v1::TASK_STAGING;
  std::optional<v1::TaskStatus> latest;
  std::string role;         // the allocation role its resources came from
  ResourcePools resources;
  // Terminal, its resources back with the allocator; the task itself stays
  // until its framework acknowledges that last update, as in Mesos.
  bool released = false;
  std::string executor_id = {};  // set for a task of a task group
};

// The executor of task groups (LAUNCH_GROUP) on one agent: it holds its own
// resources until its last task ends, when the framework hears FAILURE.
struct ExecutorRecord {
  v1::ExecutorInfo info;
  std::string role;
  ResourcePools resources;
  std::set<std::string> live_tasks;  // ids of its tasks not yet terminal
  bool all_finished = true;          // no task of it ended other than TASK_FINISHED
};

// A task that passed validation, with the resources it takes from its offers.
struct PlannedTask {
  v1::TaskInfo task;
  std::string role;
  ResourcePools resources;
};

struct OfferRecord {
  std::string id;
  std::string framework_id;
  std::string role;
  std::string agent_id;
  ResourcePools resources;
  Clock::time_point created;
};

struct AgentRecord {
  std::string id;
  v1::AgentInfo info;
  std::string ip;
  ResourcePools total;
  std::shared_ptr<http::Stream> stream;
  std::uint64_t epoch = 0;  // registrations so far: tells a newer one apart
  codec::Format format = codec::Format::Protobuf;
  bool connected = false;
  bool unreachable = false;   // missed its heartbeats: its tasks are unreachable
  Clock::time_point last_seen;
  Clock::time_point disconnected_at;
  Clock::time_point unreachable_at;
  double registered_time = 0;
};

struct FrameworkRecord {
  std::string id;
  v1::FrameworkInfo info;
  std::string stream_id;
  std::shared_ptr<http::Stream> stream;
  codec::Format format = codec::Format::Json;
  bool connected = false;
  FrameworkRoles roles;
  std::set<std::string> suppressed_roles;
  Clock::time_point disconnected_at;
  std::deque<TaskRecord> completed;
  double registered_time = 0;
};

class MasterProcess {
 public:
  MasterProcess(asio::any_io_executor executor, Flags flags);
  Result<void> start();
  void stop();
  std::uint16_t port() const { return server_.port(); }
  int exit_code() const { return exit_code_; }

 private:
  // master.cpp
  asio::awaitable<void> tick_loop();
  asio::awaitable<void> heartbeat_loop();
  void request_allocation();
  void allocate();
  void expire(Clock::time_point now);
  void send(FrameworkRecord& framework, const sched::Event& event);
  void send(AgentRecord& agent, const agent::Event& event);
  void update_framework(const std::string& framework_id, const v1::TaskStatus& status);
  void remove_framework(const std::string& framework_id, std::string_view why);
  void finish_task(const TaskKey& key);   // release_task, then remove_task
  void release_task(TaskRecord& task);     // its resources back to the allocator, once
  void remove_task(const TaskKey& key);    // into the framework's completed tasks
  void executor_task_ended(const TaskRecord& task);  // its executor ends with its last task
  Resources cluster_total() const;
  std::string next_id(char kind);
  v1::TaskStatus master_status(const TaskRecord& task, v1::TaskState state,
                               v1::TaskStatus::Reason reason, std::string message) const;

  // leadership.cpp
  v1::MasterInfo master_info() const;
  Result<void> start_election();
  void leader_changed(const std::optional<v1::MasterInfo>& leader);
  void fatal(std::string_view why);
  http::Handler leader_only(http::Handler handler);

  // offers.cpp
  void make_offers(std::vector<Allocation> allocations);
  // Ends an offer. `rescind`: tell the framework; `refuse`: how long the
  // framework is not offered those resources again (DECLINE's filter).
  void remove_offer(const std::string& offer_id, bool rescind, double refuse_seconds = 0);
  void rescind_offers(const std::string& framework_id, const std::string& agent_id);
  void expire_offers(Clock::time_point now);

  // scheduler_api.cpp
  asio::awaitable<void> handle_scheduler(http::Exchange& exchange);
  asio::awaitable<void> subscribe(http::Exchange& exchange, sched::Call call, Negotiated negotiated);
  std::string admit_framework(const std::string& id, const v1::FrameworkInfo& info, FrameworkRoles roles,
                              const std::set<std::string>& suppressed, codec::Format format);
  void framework_disconnected(const std::string& framework_id, const std::shared_ptr<http::Stream>& stream);

  // scheduler_calls.cpp
  Result<void> accept(FrameworkRecord& framework, const sched::Call::Accept& accept);
  Result<PlannedTask> plan_task(const FrameworkRecord& framework, const std::string& agent_id, v1::TaskInfo task,
                                std::map<std::string, ResourcePools>& available) const;
  void launch(FrameworkRecord& framework, const std::string& agent_id, v1::TaskInfo task,
              std::map<std::string, ResourcePools>& available);
  void launch_group(FrameworkRecord& framework, const std::string& agent_id,
                    const v1::Offer::Operation::LaunchGroup& group, std::map<std::string, ResourcePools>& available);
  Result<std::string> plan_group_executor(const FrameworkRecord& framework, const std::string& agent_id,
                                   const v1::ExecutorInfo& executor,
                                   std::map<std::string, ResourcePools>& available) const;
  // Tasks that cannot start: one update each, from the master.
  void refuse_tasks(const FrameworkRecord& framework, const std::string& agent_id,
                    const std::vector<v1::TaskInfo>& tasks, v1::TaskState state, v1::TaskStatus::Reason reason,
                    const std::string& message);
  void shutdown_executor(FrameworkRecord& framework, const sched::Call::Shutdown& shutdown);
  void framework_message(FrameworkRecord& framework, const sched::Call::Message& message);
  void resource_request(FrameworkRecord& framework, const sched::Call::Request& request);
  bool knows_executor(const std::string& framework_id, const std::string& agent_id,
                      const std::string& executor_id) const;
  void decline(FrameworkRecord& framework, const google::protobuf::RepeatedPtrField<v1::OfferID>& ids,
               double refuse_seconds);
  Result<void> suppress(FrameworkRecord& framework, const google::protobuf::RepeatedPtrField<std::string>& roles);
  Result<void> revive(FrameworkRecord& framework, const google::protobuf::RepeatedPtrField<std::string>& roles);
  Result<void> kill(FrameworkRecord& framework, const sched::Call::Kill& kill);
  Result<void> acknowledge(FrameworkRecord& framework, const sched::Call::Acknowledge& ack);
  void reconcile(FrameworkRecord& framework, const sched::Call::Reconcile& reconcile);

  // agent_health.cpp
  void check_agents(Clock::time_point now);
  void mark_unreachable(const std::string& agent_id, Clock::time_point now);
  void agent_returned(AgentRecord& agent);

  // agent_registry.cpp
  Result<void> load_agent_registry();
  void save_agent_registry() const;
  // An agent (re-)registered; `known`: this master had a record of it already.
  void agent_admitted(const std::string& agent_id, bool known);
  void expire_recovered_agents(Clock::time_point now);

  // agent_api.cpp
  asio::awaitable<void> handle_agent(http::Exchange& exchange);
  asio::awaitable<void> register_agent(http::Exchange& exchange, agent::Call call, Negotiated negotiated);
  void reconcile_agent_tasks(AgentRecord& agent, const agent::Call::Register& registration);
  Result<void> status_update(AgentRecord& agent, const agent::Call::StatusUpdate& update);
  void agent_disconnected(const std::string& agent_id, const std::shared_ptr<http::Stream>& stream);
  void remove_agent(const std::string& agent_id, v1::TaskState state, v1::TaskStatus::Reason reason,
                    std::string_view why);

  // operator_api.cpp
  void add_operator_routes();
  http::Response weights_response(const http::Request& request);
  http::Response quota_response(const http::Request& request, std::string_view path);
  Result<void> set_quotas(std::string_view body);
  Result<void> load_roles_config();
  Result<void> save_roles_config() const;

  // state_json.cpp
  std::string state_json() const;
  std::string roles_json() const;
  std::string metrics_text();

  // Wraps a callback the event loop may run after this master is gone.
  std::function<void()> guarded(std::function<void()> callback) const {
    return [alive = std::weak_ptr<void>(lifetime_), callback = std::move(callback)] {
      if (alive.lock()) callback();
    };
  }

  std::shared_ptr<char> lifetime_ = std::make_shared<char>();
  asio::any_io_executor executor_;
  Flags flags_;
  http::Server server_;
  asio::steady_timer tick_timer_;
  asio::steady_timer heartbeat_timer_;
  bool stopping_ = false;
  bool allocation_pending_ = false;

  std::string master_id_;
  double start_time_ = 0;
  std::uint64_t id_counter_ = 0;
  std::map<std::string, AgentRecord> agents_;
  // Admitted by an earlier run of this master and not re-registered yet: until when they may.
  std::map<std::string, Clock::time_point> recovered_agents_;
  std::map<std::string, FrameworkRecord> frameworks_;
  std::map<std::string, OfferRecord> offers_;
  std::map<TaskKey, TaskRecord> tasks_;
  std::map<ExecutorKey, ExecutorRecord> executors_;
  // Tasks of unreachable agents, kept so that RECONCILE can answer and the
  // agent's return can bring them back.
  std::map<TaskKey, TaskRecord> unreachable_tasks_;
  Allocator allocator_;
  std::map<std::string, double> weights_;  // set by --weights or PUT /weights
  bool leading_ = true;                    // without --zk the only master leads
  std::optional<v1::MasterInfo> leader_;   // as ZooKeeper last said
  double elected_time_ = 0;
  std::unique_ptr<LeaderWatch> leader_watch_;
  int exit_code_ = 0;
  std::map<std::string, Quota> quotas_;    // set by POST /quota
  metrics::Registry metrics_;
};

}  // namespace berth::master
