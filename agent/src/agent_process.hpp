#pragma once
// The agent's state and behaviour, on one io_context thread. Split by concern:
// agent.cpp (lifecycle and the link to the master), tasks.cpp (running and
// killing tasks), recover.cpp (rebuilding them after a restart), http_api.cpp
// (/state, /sandbox, /metrics).

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "berth/agent.pb.h"
#include "berth/agent/container_limits.hpp"
#include "berth/agent/containerizer.hpp"
#include "berth/agent/image_location.hpp"
#include "berth/agent/task_image.hpp"
#include "berth/agent/task_outcome.hpp"
#include "berth/agent/task_security.hpp"
#include "berth/agent/flags.hpp"
#include "berth/agent/checkpointer.hpp"
#include "berth/agent/status_updates.hpp"
#include "berth/common/clock.hpp"
#include "berth/common/http.hpp"
#include "berth/common/leader_watch.hpp"
#include "berth/common/metrics.hpp"
#include "berth/common/resource_pools.hpp"
#include "berth/common/resources.hpp"
#include "berth/fetcher/puller.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace v1 = berth::mesos::v1;
using TaskKey = std::pair<std::string, std::string>;  // framework id, task id

struct TaskEntry {
  v1::FrameworkInfo framework;
  v1::TaskInfo task;
  std::string container_id;
  fs::path container_dir;
  v1::TaskState state = v1::TASK_STAGING;
  ContainerProcess process;
  isolators::cgroups2::Limits limits;  // what its cgroup enforces
  isolators::TaskSecurity security;    // what it asks of the security isolator
  isolators::TaskNetwork network;      // what it asks of the network isolator
  std::optional<HostUser> user;        // a command task's host account (--switch_user)
  bool kill_requested = false;
  std::unique_ptr<asio::steady_timer> kill_timer;
  double started_at = 0;
  std::optional<fetcher::PulledImage> image;  // for a task that runs from an image, once pulled
};

class AgentProcess {
 public:
  AgentProcess(asio::any_io_executor executor, Flags flags);
  Result<void> start();
  void stop();
  std::uint16_t port() const { return server_.port(); }

 private:
  // agent.cpp
  asio::awaitable<void> master_loop();
  void leading_master_changed(const std::optional<v1::MasterInfo>& leader);
  asio::awaitable<Result<void>> session();
  agent::Call registration() const;
  void handle_event(const agent::Event& event);
  asio::awaitable<void> tick_loop();
  void post_call(agent::Call call);
  void send_update(const std::string& framework_id, const v1::TaskStatus& status);

  // recover.cpp
  Result<void> recover();
  void recover_container(const fs::path& dir, std::vector<std::string>& known);
  void recovery_error(const std::string& container_id, const Error& error, std::string_view outcome);
  void resume_launches();  // those recover() found cut before their container existed
  // tasks.cpp
  void run_task(const v1::FrameworkInfo& framework, const v1::TaskInfo& task);
  // Validates what the task asks for, pulls its image if it has one, and launches it.
  void start_launch(TaskEntry& entry, bool resumed);
  void run_task_group(const agent::Event::RunTaskGroup& group);
  // Kills the tasks of the executor (a group's, or the task whose id it is)
  // that are not terminal, but `except`.
  void kill_executor_tasks(const std::string& framework_id, const std::string& executor_id,
                           const std::string& except = {});
  void shutdown_executor(const std::string& framework_id, const std::string& executor_id);
  Result<ContainerProcess> launch(TaskEntry& entry);
  void pull_then_launch(const TaskKey& key, const TaskImage& image);
  void launched_or_failed(TaskEntry& entry, Result<ContainerProcess> launched);
  Result<ContainerImage> container_image(const fetcher::PulledImage& image, const std::string& user) const;
  asio::awaitable<void> supervise(TaskKey key);
  void finish(TaskEntry& entry, Result<ContainerExit> exit);
  LimitsPolicy limits_policy() const;
  void kill_task(const std::string& framework_id, const std::string& task_id,
                 std::optional<double> grace_seconds);
  void shutdown_framework(const std::string& framework_id);
  void acknowledge(const agent::Event::Acknowledge& ack);
  void update(TaskEntry& entry, v1::TaskState state, std::string message,
              std::optional<v1::TaskStatus::Reason> reason = std::nullopt,
              std::optional<int> exit_code = std::nullopt);
  void update(TaskEntry& entry, StatusChange change);
  // container_dirs.cpp
  Result<std::string> new_container_dir();  // a spare one if there is, else made now
  void make_spare_container_dirs();
  void checkpoint(const TaskEntry& entry);

  // http_api.cpp
  void add_routes();
  std::string state_json() const;
  struct ContainerReport {
    const TaskEntry* entry;
    const isolators::cgroups2::Statistics* statistics;  // valid until the next sample
    std::optional<isolators::Usage> network;             // a network of its own only
  };
  std::vector<ContainerReport> container_reports();
  asio::awaitable<void> update_limits(http::Exchange& exchange);
  std::string containers_json();
  std::string metrics_text();
  asio::awaitable<void> serve_sandbox(http::Exchange& exchange);
  std::string images_json() const;
  static boost::json::object image_json(const fetcher::PulledImage& image);
  asio::awaitable<void> prune_images(http::Exchange& exchange);
  http::Response prune_response();

  asio::any_io_executor executor_;
  Flags flags_;
  fs::path work_dir_;
  http::Server server_;
  http::Endpoint master_;
  bool master_known_ = true;   // with --master=zk://, once ZooKeeper names a leader
  bool redirected_ = false;    // a standby master answered 307 to the leader
  bool retry_soon_ = false;    // a new leader: try again without the backoff built up
  std::unique_ptr<LeaderWatch> leader_watch_;
  ResourcePools resources_;  // advertised, by reservation role
  std::unique_ptr<Containerizer> containerizer_;
  std::optional<fetcher::ImageStore> images_;
  std::unique_ptr<fetcher::RegistryClient> registry_;
  std::unique_ptr<fetcher::Puller> puller_;
  DockerRegistryFlag docker_registry_;
  std::unique_ptr<asio::thread_pool> pulls_;  // pulls block: they run here, off the event loop
  int pulls_in_flight_ = 0;                    // a prune waits until none is
  StatusUpdateManager status_updates_;
  Checkpointer checkpointer_{executor_};
  std::vector<std::string> spare_containers_;  // ids of directories made ahead (container_dirs.cpp)
  std::size_t spares_in_flight_ = 0;
  bool spares_failing_ = false;
  asio::steady_timer backoff_timer_;
  asio::steady_timer tick_timer_;
  http::StreamingResponse* master_stream_ = nullptr;

  bool stopping_ = false;
  bool registered_ = false;
  std::string agent_id_;
  double heartbeat_interval_ = 15;
  double start_time_ = 0;
  std::map<TaskKey, TaskEntry> tasks_;             // until the terminal update is acknowledged
  std::map<TaskKey, fs::path> sandboxes_;           // every task this work dir holds, for /sandbox
  std::deque<std::pair<TaskKey, v1::TaskState>> completed_;
  // What the last recovery could not read back, shown in /state.
  struct RecoveryError {
    std::string container_id;
    std::string error;
  };
  std::vector<RecoveryError> recovery_errors_;
  double recovery_seconds_ = 0;  // how long the last start's recovery took
  std::vector<TaskKey> resumed_launches_;  // cut by a restart before their container existed
  std::set<std::string> removed_frameworks_;
  metrics::Registry metrics_;
};

}  // namespace berth::agent
