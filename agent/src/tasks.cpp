// Running, killing and recovering tasks.

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "agent_process.hpp"
#include "berth/agent/paths.hpp"
#include "berth/agent/task_image.hpp"
#include "berth/agent/task_network.hpp"
#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/record.hpp"
#include "berth/common/task_state.hpp"

namespace berth::agent {
namespace {

constexpr std::size_t kMaxCompletedTasks = 1000;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<std::string> task_argv(const v1::CommandInfo& command) {
  if (command.shell()) return {"/bin/sh", "-c", command.value()};
  // Mesos: `value` is the executable, `arguments` the whole argv (argv[0] included).
  std::vector<std::string> argv(command.arguments().begin(), command.arguments().end());
  if (argv.empty()) argv.push_back(command.value());
  return argv;
}

// The variables Mesos gives every task (with the sandbox where the task sees
// it), then the task's own, which may replace them.
std::vector<std::string> mesos_env(const TaskEntry& entry, const std::string& agent_id, const std::string& sandbox) {
  std::vector<std::string> out{
      "MESOS_SANDBOX=" + sandbox,
      "MESOS_TASK_ID=" + entry.task.task_id().value(),
      "MESOS_FRAMEWORK_ID=" + entry.framework.id().value(),
      "MESOS_AGENT_ID=" + agent_id,
      "BERTH_CONTAINER_ID=" + entry.container_id,
  };
  for (auto& variable : port_env(entry.task, entry.network)) out.push_back(std::move(variable));
  for (const auto& variable : entry.task.command().environment().variables()) {
    out.push_back(variable.name() + "=" + variable.value());
  }
  return out;
}

// A task on the host's filesystem: a default PATH and the sandbox as HOME,
// under the Mesos variables; later values win, and the result is sorted.
std::vector<std::string> task_env(const TaskEntry& entry, const std::string& agent_id, const fs::path& sandbox) {
  std::map<std::string, std::string> env{{"PATH", kDefaultPath}, {"HOME", sandbox.string()}};
  for (const auto& variable : mesos_env(entry, agent_id, sandbox.string())) {
    auto eq = variable.find('=');
    env[variable.substr(0, eq)] = variable.substr(eq + 1);
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

// A task's executor: its group's, or for a command task, as in Mesos, the task's own id.
std::string executor_id_of(const TaskEntry& entry) {
  return entry.task.has_executor() ? entry.task.executor().executor_id().value() : entry.task.task_id().value();
}

// The shell's conventions, so `berth run` exits like the command would have.
int exit_code_for_launch_error(const Error& error) {
  if (error.code() == ENOENT) return 127;
  if (error.code() == EACCES || error.code() == ENOEXEC) return 126;
  return 125;
}

}  // namespace

void AgentProcess::update(TaskEntry& entry, v1::TaskState state, std::string message,
                          std::optional<v1::TaskStatus::Reason> reason, std::optional<int> exit_code) {
  update(entry, StatusChange{state, std::move(message), reason, exit_code, std::nullopt});
}

void AgentProcess::update(TaskEntry& entry, StatusChange change) {
  auto state = change.state;
  entry.state = state;
  v1::TaskStatus status;
  *status.mutable_task_id() = entry.task.task_id();
  status.set_state(state);
  status.set_source(v1::TaskStatus::SOURCE_EXECUTOR);
  if (!change.message.empty()) status.set_message(std::move(change.message));
  if (change.reason) status.set_reason(*change.reason);
  if (change.limitation) *status.mutable_limitation() = std::move(*change.limitation);
  status.mutable_agent_id()->set_value(agent_id_);
  if (entry.task.has_executor()) *status.mutable_executor_id() = entry.task.executor().executor_id();
  status.set_timestamp(now_seconds());
  status.set_uuid(ids::to_bytes(ids::random_uuid()));
  if (state == v1::TASK_RUNNING) {
    // As Mesos reports a container's own address, for frameworks to find it by.
    if (auto address = containerizer_->network_address(entry.container_id)) {
      auto* network = status.mutable_container_status()->add_network_infos();
      network->set_name("bridge");
      network->add_ip_addresses()->set_ip_address(*address);
    }
    status.mutable_container_status()->mutable_container_id()->set_value(entry.container_id);
  }
  if (change.exit_code) {
    auto* label = status.mutable_labels()->add_labels();
    label->set_key("exit_code");
    label->set_value(std::to_string(*change.exit_code));
  }
  metrics_.inc("berth_agent_task_updates_total", {{"state", v1::TaskState_Name(state)}});
  const auto framework_id = entry.framework.id().value();
  // Mesos's default executor: a task of a group that fails or is killed
  // takes the rest of the group with it.
  if (entry.task.has_executor() && is_terminal(state) && state != v1::TASK_FINISHED) {
    kill_executor_tasks(framework_id, executor_id_of(entry), entry.task.task_id().value());
  }
  if (removed_frameworks_.contains(framework_id)) {
    checkpointer_.write(paths::status_file(entry.container_dir), record::seal(status.SerializeAsString()));
    checkpointer_.write(paths::acknowledged_file(entry.container_dir), "");
    if (is_terminal(state)) {
      completed_.emplace_back(TaskKey{framework_id, entry.task.task_id().value()}, state);
      tasks_.erase({framework_id, entry.task.task_id().value()});
    }
    return;
  }
  // Recorded before it is sent; the writes keep their order, so do the updates.
  auto data = record::seal(status.SerializeAsString());
  checkpointer_.write(paths::status_file(entry.container_dir), std::move(data),
                      [this, framework_id, status = std::move(status)](Result<void> saved) mutable {
                        if (!saved) {
                          log::error("Failed to checkpoint the status of task {}: {}", status.task_id().value(),
                                     saved.error().what());
                        }
                        if (stopping_ || removed_frameworks_.contains(framework_id)) return;
                        status_updates_.enqueue(framework_id, std::move(status));
                      });
}

void AgentProcess::checkpoint(const TaskEntry& entry) {
  agent::ContainerCheckpoint checkpoint;
  checkpoint.set_container_id(entry.container_id);
  *checkpoint.mutable_framework() = entry.framework;
  *checkpoint.mutable_task() = entry.task;
  if (entry.process.pid > 0) {
    checkpoint.set_init_pid(entry.process.pid);
    checkpoint.set_init_start_time(entry.process.start_time);
  }
  checkpoint.set_cgroup(containerizer_->cgroup(entry.container_id));
  checkpointer_.write(paths::checkpoint_file(entry.container_dir), record::seal(checkpoint.SerializeAsString()));
}

void AgentProcess::run_task_group(const agent::Event::RunTaskGroup& group) {
  const auto& framework_id = group.framework().id().value();
  const auto& executor_id = group.executor().executor_id().value();
  log::info("Launching a group of {} tasks of framework {} under executor {}", group.task_group().tasks_size(),
            framework_id, executor_id);
  for (auto task : group.task_group().tasks()) {
    if (!task.has_executor()) *task.mutable_executor() = group.executor();
    run_task(group.framework(), task);
  }
  // A task that failed at once fails the group, including the tasks after it.
  for (const auto& task : group.task_group().tasks()) {
    auto it = tasks_.find({framework_id, task.task_id().value()});
    if (it != tasks_.end() && is_terminal(it->second.state) && it->second.state != v1::TASK_FINISHED) {
      kill_executor_tasks(framework_id, executor_id, task.task_id().value());
      break;
    }
  }
}

void AgentProcess::kill_executor_tasks(const std::string& framework_id, const std::string& executor_id,
                                       const std::string& except) {
  std::vector<std::string> doomed;
  for (const auto& [key, entry] : tasks_) {
    if (key.first == framework_id && key.second != except && !is_terminal(entry.state) &&
        !entry.kill_requested && executor_id_of(entry) == executor_id) {
      doomed.push_back(key.second);
    }
  }
  for (const auto& task_id : doomed) kill_task(framework_id, task_id, std::nullopt);
}

void AgentProcess::shutdown_executor(const std::string& framework_id, const std::string& executor_id) {
  log::info("Shutting down executor {} of framework {}", executor_id, framework_id);
  kill_executor_tasks(framework_id, executor_id);
}

void AgentProcess::run_task(const v1::FrameworkInfo& framework, const v1::TaskInfo& task) {
  TaskKey key{framework.id().value(), task.task_id().value()};
  if (!ids::is_safe_path_component(key.first) || !ids::is_safe_path_component(key.second)) {
    log::error("Refusing task '{}' of framework '{}': unsafe id", key.second, key.first);
    return;
  }
  if (tasks_.contains(key)) {
    log::warn("Ignoring a second RUN_TASK for task {} of framework {}", key.second, key.first);
    return;
  }
  removed_frameworks_.erase(key.first);
  auto& entry = tasks_[key];
  entry.framework = framework;
  entry.task = task;
  auto dirs = new_container_dir();
  entry.container_id = dirs ? *dirs : ids::random_string();
  entry.container_dir = paths::container_dir(work_dir_, entry.container_id);
  entry.started_at = now_seconds();
  log::info("Launching task {} of framework {} in container {}", key.second, key.first, entry.container_id);
  if (!dirs) {
    update(entry, v1::TASK_FAILED, "Failed to create the sandbox: " + dirs.error().what(),
           v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
    return;
  }
  sandboxes_[key] = paths::sandbox_dir(entry.container_dir);
  checkpoint(entry);
  start_launch(entry, false);
}

// From the checkpointed task alone, so that a launch an agent restart cut
// before its container existed is taken up again the same way.
void AgentProcess::start_launch(TaskEntry& entry, bool resumed) {
  TaskKey key{entry.framework.id().value(), entry.task.task_id().value()};
  const auto& task = entry.task;
  auto limits = container_limits(task, limits_policy());
  if (!limits) {
    log::warn("Task {} of framework {}: {}", key.second, key.first, limits.error().what());
    update(entry, v1::TASK_ERROR, "Invalid task: " + limits.error().what(), v1::TaskStatus::REASON_TASK_INVALID);
    return;
  }
  entry.limits = std::move(*limits);
  auto security = task_security(task);
  if (!security) {
    update(entry, v1::TASK_ERROR, "Invalid task: " + security.error().what(), v1::TaskStatus::REASON_TASK_INVALID);
    return;
  }
  entry.security = std::move(*security);
  auto network = task_network(task);
  if (!network) {
    update(entry, v1::TASK_ERROR, "Invalid task: " + network.error().what(), v1::TaskStatus::REASON_TASK_INVALID);
    return;
  }
  entry.network = std::move(*network);
  auto image = task_image(task);
  if (image && !*image && flags_.switch_user) {
    // As Mesos: the command's user, else the framework's.
    auto name = task.command().user().empty() ? entry.framework.user() : task.command().user();
    if (!name.empty()) {
      auto user = host_user(name);
      if (!user) {
        update(entry, v1::TASK_FAILED, "Failed to launch: " + user.error().what(),
               v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
        return;
      }
      entry.security.root = user->uid == 0;
      entry.user = std::move(*user);
    }
  }
  if (!image) {
    update(entry, v1::TASK_ERROR, "Invalid task: " + image.error().what(), v1::TaskStatus::REASON_TASK_INVALID);
    return;
  }
  // Updates of a task go one at a time, each after the framework
  // acknowledged the one before (Mesos's order guarantee): a TASK_STARTING
  // would hold TASK_RUNNING back by a round trip through the framework. It is
  // sent only while an image is pulled, when there is something to say.
  if (*image) {
    auto message = "Pulling image " + (*image)->name;
    if (resumed) message += " again after an agent restart (layers already here are kept)";
    update(entry, v1::TASK_STARTING, std::move(message));
    pull_then_launch(key, **image);
    return;
  }
  launched_or_failed(entry, launch(entry));
}

// Pulls on the pull threads (unless the store holds the image and the task
// takes a cached copy), then launches back on the event loop, unless the
// task was killed or the agent is stopping meanwhile.
void AgentProcess::pull_then_launch(const TaskKey& key, const TaskImage& image) {
  auto& entry = tasks_.at(key);
  auto location = resolve_task_image(image.name, docker_registry_);
  if (!location) {
    update(entry, v1::TASK_ERROR, "Invalid task: " + location.error().what(), v1::TaskStatus::REASON_TASK_INVALID);
    return;
  }
  log::info("Task {} of framework {}: image {}", key.second, key.first, fetcher::to_string(*location));
  ++pulls_in_flight_;
  asio::post(*pulls_, [this, key, location = *location, force_pull = image.force_pull] {
    auto pulled = [&]() -> Result<fetcher::PulledImage> {
      if (!force_pull) {
        auto stored = puller_->stored(fetcher::to_string(location));
        if (stored && *stored) return std::move(**stored);
      }
      return puller_->pull(location);
    }();
    asio::post(executor_, [this, key, pulled = std::move(pulled)]() mutable {
      --pulls_in_flight_;
      if (stopping_) return;
      auto it = tasks_.find(key);
      if (it == tasks_.end() || is_terminal(it->second.state)) return;
      auto& entry = it->second;
      if (entry.kill_requested) {
        update(entry, v1::TASK_KILLED, "Killed while its image was being pulled",
               v1::TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH);
        return;
      }
      if (!pulled) {
        metrics_.inc("berth_agent_container_launch_errors_total");
        log::warn("Task {} of framework {}: {}", key.second, key.first, pulled.error().what());
        update(entry, v1::TASK_FAILED, "Failed to pull the image: " + pulled.error().what(),
               v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
        return;
      }
      log::info("Task {} of framework {}: image {} ready ({} layers fetched, {} already here, {} bytes downloaded, {} "
                "kept from an interrupted pull)",
                key.second, key.first, pulled->record.reference, pulled->stats.layers_fetched,
                pulled->stats.layers_present, pulled->stats.bytes_fetched, pulled->stats.bytes_resumed);
      entry.image = std::move(*pulled);
      launched_or_failed(entry, launch(entry));
    });
  });
}

void AgentProcess::launched_or_failed(TaskEntry& entry, Result<ContainerProcess> launched) {
  TaskKey key{entry.framework.id().value(), entry.task.task_id().value()};
  if (!launched) {
    metrics_.inc("berth_agent_container_launch_errors_total");
    auto message = "Failed to launch: " + launched.error().what();
    log::warn("Task {} of framework {}: {}", key.second, key.first, message);
    update(entry, v1::TASK_FAILED, message, v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
           exit_code_for_launch_error(launched.error()));
    return;
  }
  entry.process = *launched;
  checkpoint(entry);
  metrics_.inc("berth_agent_containers_launched_total");
  update(entry, v1::TASK_RUNNING, "");
  asio::co_spawn(executor_, supervise(key), asio::detached);
}

Result<ContainerProcess> AgentProcess::launch(TaskEntry& entry) {
  ContainerSpec spec;
  spec.container_id = entry.container_id;
  spec.container_dir = entry.container_dir;
  spec.limits = entry.limits;
  spec.security = entry.security;
  spec.user = entry.user;
  spec.network = entry.network;
  if (entry.image) {
    // The image's variables first, then these (image_command merges them).
    auto env = mesos_env(entry, agent_id_, kImageSandboxPath);
    BERTH_TRY(auto command, image_command(entry.task.command(), entry.image->config, env));
    if (std::ranges::none_of(command.env, [](const auto& v) { return v.starts_with("PATH="); })) {
      command.env.push_back(std::string("PATH=") + kDefaultPath);
    }
    spec.argv = std::move(command.argv);
    spec.env = std::move(command.env);
    BERTH_TRY(spec.image, container_image(*entry.image, command.user));
    spec.image->cwd = command.cwd;
    spec.security.root = spec.image->uid == 0;
    return containerizer_->launch(spec);
  }
  if (!entry.task.has_command()) return fail("the task has no command");
  spec.argv = task_argv(entry.task.command());
  if (spec.argv.empty() || spec.argv.front().empty()) return fail("the task's command is empty");
  spec.env = task_env(entry, agent_id_, paths::sandbox_dir(entry.container_dir));
  return containerizer_->launch(spec);
}

Result<ContainerImage> AgentProcess::container_image(const fetcher::PulledImage& image, const std::string& user) const {
  ContainerImage out;
  out.layers_dir = images_->root() / "layers";
  for (auto it = image.record.layers.rbegin(); it != image.record.layers.rend(); ++it) {
    out.layers.push_back(it->algorithm + "/" + it->hex);
  }
  // A user by name is looked up in the image's own files: the topmost layer
  // that has them.
  auto image_file = [&](const char* name) -> std::string {
    for (const auto& layer : out.layers) {
      auto path = out.layers_dir / layer / name;
      if (fs::is_regular_file(fs::symlink_status(path))) return files::read(path).value_or("");
    }
    return {};
  };
  BERTH_TRY(auto resolved, with_context(resolve_image_user(user, image_file("etc/passwd"), image_file("etc/group")),
                                        "image " + image.record.reference));
  out.uid = resolved.uid;
  out.gid = resolved.gid;
  return out;
}

LimitsPolicy AgentProcess::limits_policy() const {
  return {.cpu_quota_from_request = flags_.cgroups_enable_cfs,
          .cpu_period_us = flags_.cgroups_cpu_period_us,
          .no_swap = flags_.cgroups_limit_swap,
          .pids_max = flags_.container_pids_max};
}

asio::awaitable<void> AgentProcess::supervise(TaskKey key) {
  auto container_id = tasks_.at(key).container_id;
  auto exit = co_await containerizer_->wait(container_id);
  if (stopping_) co_return;
  auto it = tasks_.find(key);
  if (it == tasks_.end()) co_return;
  finish(it->second, exit);
}

void AgentProcess::finish(TaskEntry& entry, Result<ContainerExit> exit) {
  if (entry.kill_timer) entry.kill_timer->cancel();
  auto change = terminal_status({std::move(exit), entry.kill_requested, entry.limits});
  log::info("Task {} of framework {}: {}", entry.task.task_id().value(), entry.framework.id().value(), change.message);
  update(entry, std::move(change));
}

void AgentProcess::kill_task(const std::string& framework_id, const std::string& task_id,
                             std::optional<double> grace_seconds) {
  auto it = tasks_.find({framework_id, task_id});
  if (it == tasks_.end() || is_terminal(it->second.state)) {
    log::info("Ignoring kill of task {} of framework {}: not running here", task_id, framework_id);
    return;
  }
  auto& entry = it->second;
  if (entry.kill_requested) return;
  entry.kill_requested = true;
  // The kill call's grace period, else the task's kill policy, else the agent's default.
  if (!grace_seconds && entry.task.kill_policy().has_grace_period()) {
    grace_seconds = static_cast<double>(entry.task.kill_policy().grace_period().nanoseconds()) / 1e9;
  }
  double grace = grace_seconds.value_or(flags_.kill_grace_period);
  log::info("Killing task {} of framework {} (grace period {}s)", task_id, framework_id, grace);
  if (!containerizer_->running(entry.container_id)) return;
  if (auto sent = containerizer_->signal(entry.container_id, grace > 0 ? SIGTERM : SIGKILL); !sent) {
    log::warn("Signalling container {}: {}", entry.container_id, sent.error().what());
  }
  if (grace <= 0) return;
  entry.kill_timer = std::make_unique<asio::steady_timer>(executor_);
  entry.kill_timer->expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(grace * 1000)));
  entry.kill_timer->async_wait([this, container_id = entry.container_id](boost::system::error_code ec) {
    if (ec || stopping_ || !containerizer_->running(container_id)) return;
    log::info("Container {} outlived its grace period; killing it", container_id);
    if (auto killed = containerizer_->kill(container_id); !killed) {
      log::warn("Killing container {}: {}", container_id, killed.error().what());
    }
  });
}

void AgentProcess::shutdown_framework(const std::string& framework_id) {
  log::info("Shutting down framework {}", framework_id);
  removed_frameworks_.insert(framework_id);
  status_updates_.forget_framework(framework_id);
  std::vector<TaskKey> done;
  for (auto& [key, entry] : tasks_) {
    if (key.first != framework_id) continue;
    if (is_terminal(entry.state)) {
      checkpointer_.write(paths::acknowledged_file(entry.container_dir), "");
      done.push_back(key);
    } else {
      kill_task(key.first, key.second, std::nullopt);
    }
  }
  for (const auto& key : done) {
    completed_.emplace_back(key, tasks_.at(key).state);
    tasks_.erase(key);
  }
}

void AgentProcess::acknowledge(const agent::Event::Acknowledge& ack) {
  TaskKey key{ack.framework_id().value(), ack.task_id().value()};
  if (!status_updates_.acknowledge(key.first, key.second, ack.uuid())) {
    log::debug("Ignoring a stale acknowledgement for task {} of framework {}", key.second, key.first);
    return;
  }
  auto it = tasks_.find(key);
  if (it == tasks_.end()) return;
  if (!is_terminal(it->second.state)) {
    // Which update the framework has: a restarted agent re-sends the latest
    // only if it is not this one.
    checkpointer_.write(paths::acknowledged_status_file(it->second.container_dir), ack.uuid());
    return;
  }
  if (status_updates_.has_pending(key.first, key.second)) return;
  checkpointer_.write(paths::acknowledged_file(it->second.container_dir), "");
  completed_.emplace_back(key, it->second.state);
  while (completed_.size() > kMaxCompletedTasks) completed_.pop_front();
  tasks_.erase(it);
}

}  // namespace berth::agent
