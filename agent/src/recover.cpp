// Rebuilding the agent's state from its work directory after a restart.

#include <utility>

#include "agent_process.hpp"
#include "berth/agent/paths.hpp"
#include "berth/common/files.hpp"
#include "berth/common/log.hpp"
#include "berth/common/record.hpp"
#include "berth/common/task_state.hpp"

namespace berth::agent {

namespace {

// A checkpointed message: a checksummed record (record.hpp), or a bare
// message as agents wrote them before records (an upgrade keeps its tasks).
Result<void> read_checkpoint(const fs::path& path, google::protobuf::MessageLite& message) {
  BERTH_TRY(auto data, files::read(path));
  std::string payload;
  if (record::is_record(data)) {
    BERTH_TRY(payload, with_context(record::open(data), path.filename().string()));
  } else {
    payload = std::move(data);
  }
  if (!message.ParseFromString(payload)) return fail(Error(path.filename().string() + ": does not parse", EBADMSG));
  return {};
}

}  // namespace

// Logged, listed in /state recovery_errors and counted.
void AgentProcess::recovery_error(const std::string& container_id, const Error& error, std::string_view outcome) {
  log::error("Container {}: cannot read back {}; {}", container_id, error.what(), outcome);
  recovery_errors_.push_back({container_id, error.what()});
  metrics_.inc("berth_agent_recovery_errors_total");
}

Result<void> AgentProcess::recover() {
  if (auto id = files::read(paths::agent_id_file(work_dir_)); id && !id->empty()) {
    agent_id_ = *id;
    log::info("Recovering agent {} from {}", agent_id_, work_dir_.string());
  }
  std::vector<std::string> known;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(paths::containers_dir(work_dir_), ec)) {
    if (dir.is_directory()) recover_container(dir.path(), known);
  }
  if (ec) return fail(Error::sys("list", ec.value(), paths::containers_dir(work_dir_)));
  // Cgroups of containers the checkpoints do not know about are orphans.
  return containerizer_->recover(known);
}

void AgentProcess::resume_launches() {
  for (const auto& key : std::exchange(resumed_launches_, {})) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) continue;
    it->second.started_at = now_seconds();
    start_launch(it->second, true);
  }
}

void AgentProcess::recover_container(const fs::path& dir, std::vector<std::string>& known) {
  auto container_id = dir.filename().string();
  if (!fs::exists(paths::checkpoint_file(dir)) && !fs::exists(paths::status_file(dir))) {
    // A spare directory, or a launch that had recorded nothing yet: nothing
    // ran from it that the agent knows of (a container's cgroup is an orphan).
    log::info("Container {}: removing its directory, which holds no record", container_id);
    if (auto removed = files::remove_all(dir); !removed) log::warn("{}", removed.error().what());
    return;
  }
  agent::ContainerCheckpoint checkpoint;
  auto read = read_checkpoint(paths::checkpoint_file(dir), checkpoint);
  if (read && checkpoint.container_id() != container_id) {
    read = fail(Error("container.pb: names container '" + checkpoint.container_id() + "'", EBADMSG));
  }
  if (!read) {
    // Which task ran here is unknown: the container is an orphan (its cgroup
    // is destroyed with the others), and the master reports the task LOST.
    recovery_error(container_id, read.error(), "destroying it as an orphan");
    return;
  }
  TaskKey key{checkpoint.framework().id().value(), checkpoint.task().task_id().value()};
  sandboxes_[key] = paths::sandbox_dir(dir);
  if (fs::exists(paths::acknowledged_file(dir))) return;  // finished and reported

  known.push_back(container_id);
  TaskEntry entry;
  entry.framework = checkpoint.framework();
  entry.task = checkpoint.task();
  entry.container_id = container_id;
  entry.container_dir = dir;
  entry.process = {checkpoint.init_pid(), checkpoint.init_start_time()};
  // Validated when the task was launched, so this holds the limits it runs under.
  entry.limits = container_limits(entry.task, limits_policy()).value_or(isolators::cgroups2::Limits{});
  v1::TaskStatus latest;
  if (fs::exists(paths::status_file(dir))) {
    if (auto saved = read_checkpoint(paths::status_file(dir), latest); saved) {
      entry.state = latest.state();
    } else {
      // The task is known: recovered without its latest status, which the
      // container's state and exit status give again.
      recovery_error(container_id, saved.error(), "its latest status is lost");
      latest.Clear();
    }
  }
  auto& recovered = tasks_[key] = std::move(entry);

  if (is_terminal(recovered.state)) {
    // Reported before the restart but not yet acknowledged: send it again, same uuid.
    status_updates_.enqueue(key.first, latest);
    return;
  }
  bool alive = recovered.process.pid > 0 &&
               containerizer_->attach(container_id, dir, recovered.process).has_value();
  if (alive && flags_.recover == "cleanup") {
    log::info("Container {}: killing it (--recover=cleanup)", container_id);
    recovered.kill_requested = true;
    (void)containerizer_->kill(container_id);
  }
  if (alive) {
    log::info("Container {}: re-attached to task {} of framework {} (pid {})", container_id, key.second,
              key.first, recovered.process.pid);
    if (recovered.state != v1::TASK_RUNNING && !recovered.kill_requested) {
      // Launched (the checkpoint has its init) but killed before TASK_RUNNING
      // was recorded, or its record is lost: say it now (a duplicate is harmless).
      update(recovered, v1::TASK_RUNNING, "");
    } else if (latest.has_uuid() && files::read(paths::acknowledged_status_file(dir)).value_or("") != latest.uuid()) {
      // Sent before the restart but not acknowledged: again, with its uuid.
      status_updates_.enqueue(key.first, latest);
    }
    asio::co_spawn(executor_, supervise(key), asio::detached);
    return;
  }
  if (recovered.process.pid <= 0 && flags_.recover != "cleanup" &&
      !fs::exists(containerizer_->cgroup(container_id))) {
    // Cut before its container existed (while its image was pulled, say):
    // nothing of it ran, so once recovery is done its launch is taken up
    // again, and a pull finds the layers it had already fetched in the store.
    log::info("Container {}: the agent restarted before task {} of framework {} started; launching it again",
              container_id, key.second, key.first);
    (void)containerizer_->destroy(container_id);
    resumed_launches_.push_back(key);
    return;
  }
  // The container ended while the agent was down (or its launch was cut
  // after its cgroup was made). What its cgroup says about the end goes
  // before the cgroup does.
  auto status = launcher::read_exit_status(paths::runtime_dir(dir));
  auto limitation = containerizer_->limitation(container_id);
  (void)containerizer_->destroy(container_id);
  if (recovered.process.pid <= 0) {
    update(recovered, v1::TASK_FAILED, "The agent restarted while launching the task",
           v1::TaskStatus::REASON_AGENT_RESTARTED);
    return;
  }
  log::info("Container {}: ended while the agent was down", container_id);
  if (!status) {
    finish(recovered, fail(std::move(status).error()));
    return;
  }
  finish(recovered, ContainerExit{*status, limitation ? *limitation : std::nullopt});
}

}  // namespace berth::agent
