// The agent's HTTP API: /state, /containers, /sandbox/<framework>/<task>/<file>,
// POST /containers/<container_id>/limits, /images, POST /images/prune,
// /health, /metrics, /version.

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "agent_process.hpp"
#include "berth/common/codec.hpp"
#include "berth/common/fd.hpp"
#include "berth/common/ids.hpp"
#include "berth/agent/container_statistics.hpp"
#include "berth/common/log.hpp"
#include "berth/common/task_state.hpp"

namespace berth::agent {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxSandboxChunk = 1 << 20;

json::object resources_json(const Resources& resources) {
  return json::object{{"cpus", resources.cpus()},
                      {"mem", resources.mem_mb()},
                      {"disk", resources.disk_mb()},
                      {"text", resources.to_string()}};
}

json::object limits_json(const isolators::cgroups2::Limits& limits) {
  json::object out{{"cpus", limits.cpus}, {"mem", static_cast<double>(limits.mem_bytes) / (1024.0 * 1024.0)}};
  if (limits.cpus_limit) {
    out["cpus_limit"] = std::isinf(*limits.cpus_limit) ? json::value("infinity") : json::value(*limits.cpus_limit);
  }
  if (limits.mem_limit) {
    out["mem_limit"] = *limits.mem_limit == std::numeric_limits<std::uint64_t>::max()
                           ? json::value("infinity")
                           : json::value(static_cast<double>(*limits.mem_limit) / (1024.0 * 1024.0));
  }
  if (limits.pids_max) out["pids_max"] = *limits.pids_max;
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto part = path.substr(0, slash);
    if (!part.empty()) parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

void AgentProcess::add_routes() {
  auto json_route = [this](std::string path, auto render) {
    server_.route(std::move(path), http::only(http::Verb::get, [this, render](http::Exchange& exchange)
                                                                   -> asio::awaitable<void> {
      co_await exchange.respond(http::make_response(http::Status::ok, render(this), "application/json"));
    }));
  };
  json_route("/state", [](AgentProcess* self) { return self->state_json(); });
  json_route("/slave(1)/state", [](AgentProcess* self) { return self->state_json(); });
  json_route("/containers", [](AgentProcess* self) { return self->containers_json(); });
  server_.route("/health", http::only(http::Verb::get, [](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, ""));
  }));
  server_.route("/metrics", http::only(http::Verb::get, [this](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(http::Status::ok, metrics_text(), metrics::kContentType));
  }));
  server_.route("/version", http::only(http::Verb::get, [](http::Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(http::make_response(
        http::Status::ok, fmt::format(R"({{"version":"{}"}})", BERTH_VERSION), "application/json"));
  }));
  server_.route_prefix("/sandbox/", http::only(http::Verb::get, [this](http::Exchange& exchange) {
    return serve_sandbox(exchange);
  }));
  server_.route_prefix("/containers/", http::only(http::Verb::post, [this](http::Exchange& exchange) {
    return update_limits(exchange);
  }));
  json_route("/images", [](AgentProcess* self) { return self->images_json(); });
  server_.route("/images/prune", http::only(http::Verb::post, [this](http::Exchange& exchange) {
    return prune_images(exchange);
  }));
}

// GET /images: the images in the agent's store, and the space it takes.
std::string AgentProcess::images_json() const {
  json::array images;
  auto records = images_->images();
  if (records) {
    for (const auto& record : *records) {
      json::array layers;
      for (const auto& layer : record.layers) layers.emplace_back(layer.str());
      images.push_back(json::object{{"reference", record.reference},
                                    {"manifest_digest", record.manifest_digest.str()},
                                    {"config_digest", record.config_digest.str()},
                                    {"layers", std::move(layers)},
                                    {"size", record.size},
                                    {"pulled_at", record.pulled_at}});
    }
  } else {
    log::warn("Listing images: {}", records.error().what());
  }
  return json::serialize(json::object{{"images", std::move(images)},
                                      {"disk_usage_bytes", images_->disk_usage().value_or(0)}});
}

// POST /images/prune: removes the layers and blobs no image record and no
// running container uses. Refused while a pull is in flight, whose layers
// are not yet any image's.
asio::awaitable<void> AgentProcess::prune_images(http::Exchange& exchange) {
  co_await exchange.respond(prune_response());
}

http::Response AgentProcess::prune_response() {
  if (pulls_in_flight_ > 0) {
    return http::error_response(http::Status::conflict,
                                fmt::format("{} image pull(s) in progress; prune again when they are done",
                                            pulls_in_flight_));
  }
  std::set<std::string> in_use;
  for (const auto& [key, entry] : tasks_) {
    if (!entry.image || is_terminal(entry.state)) continue;
    for (const auto& layer : entry.image->record.layers) in_use.insert(layer.str());
  }
  auto pruned = images_->prune(in_use);
  if (!pruned && pruned.error().code() == EBUSY) {
    // A pull by another process sharing the store (berth pull, another agent).
    return http::error_response(http::Status::conflict, pruned.error().what());
  }
  if (!pruned) return http::error_response(http::Status::internal_server_error, pruned.error().what());
  log::info("Image store pruned: {} layers, {} blobs and {} partial downloads removed, {} bytes freed",
            pruned->layers_removed.size(), pruned->blobs_removed.size(), pruned->partial_downloads_removed,
            pruned->bytes_freed);
  json::array layers;
  json::array blobs;
  for (const auto& layer : pruned->layers_removed) layers.emplace_back(layer);
  for (const auto& blob : pruned->blobs_removed) blobs.emplace_back(blob);
  json::object body;
  body["layers_removed"] = std::move(layers);
  body["blobs_removed"] = std::move(blobs);
  body["partial_downloads_removed"] = pruned->partial_downloads_removed;
  body["bytes_freed"] = pruned->bytes_freed;
  return http::make_response(http::Status::ok, json::serialize(body), "application/json");
}

// POST /containers/<container_id>/limits with a JSON object of new limits
// (container_limits.hpp, updated_limits): applied to the running container
// at once; answers the limits in force.
asio::awaitable<void> AgentProcess::update_limits(http::Exchange& exchange) {
  auto parts = split_path(exchange.path());
  if (parts.size() != 3 || parts[2] != "limits") {
    co_await exchange.respond(
        http::error_response(http::Status::bad_request, "Expecting POST /containers/<container_id>/limits"));
    co_return;
  }
  TaskEntry* entry = nullptr;
  for (auto& [key, task] : tasks_) {
    if (task.container_id == parts[1]) entry = &task;
  }
  if (entry == nullptr || !containerizer_->running(parts[1])) {
    co_await exchange.respond(
        http::error_response(http::Status::not_found, "No running container '" + parts[1] + "' on this agent"));
    co_return;
  }
  auto limits = updated_limits(entry->limits, exchange.request().body());
  if (!limits) {
    co_await exchange.respond(http::error_response(http::Status::bad_request, limits.error().what()));
    co_return;
  }
  if (auto updated = containerizer_->update(parts[1], *limits); !updated) {
    log::warn("Updating the limits of container {}: {}", parts[1], updated.error().what());
    co_await exchange.respond(http::error_response(http::Status::internal_server_error, updated.error().what()));
    co_return;
  }
  entry->limits = *limits;
  log::info("Container {}: limits updated to {}", parts[1], exchange.request().body());
  co_await exchange.respond(
      http::make_response(http::Status::ok, json::serialize(limits_json(entry->limits)), "application/json"));
}

asio::awaitable<void> AgentProcess::serve_sandbox(http::Exchange& exchange) {
  auto parts = split_path(exchange.path());
  if (parts.size() != 4 || (parts[3] != "stdout" && parts[3] != "stderr") ||
      !ids::is_safe_path_component(parts[1]) || !ids::is_safe_path_component(parts[2])) {
    co_await exchange.respond(http::error_response(
        http::Status::bad_request, "Expecting /sandbox/<framework_id>/<task_id>/<stdout|stderr>"));
    co_return;
  }
  auto sandbox = sandboxes_.find({parts[1], parts[2]});
  if (sandbox == sandboxes_.end()) {
    co_await exchange.respond(http::error_response(
        http::Status::not_found, "No task '" + parts[2] + "' of framework '" + parts[1] + "' on this agent"));
    co_return;
  }
  std::uint64_t offset = 0;
  if (auto text = exchange.query("offset")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), offset);
    if (ec != std::errc{} || end != text->data() + text->size()) {
      co_await exchange.respond(http::error_response(http::Status::bad_request, "'offset' must be a number"));
      co_return;
    }
  }
  auto file = sandbox->second / parts[3];
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    co_await exchange.respond(http::error_response(http::Status::not_found, "No " + parts[3] + " yet"));
    co_return;
  }
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  std::string body;
  if (size > 0 && offset < static_cast<std::uint64_t>(size)) {
    body.resize(std::min<std::uint64_t>(kMaxSandboxChunk, static_cast<std::uint64_t>(size) - offset));
    ssize_t n = ::pread(fd.get(), body.data(), body.size(), static_cast<off_t>(offset));
    body.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  auto response = http::make_response(http::Status::ok, std::move(body), "application/octet-stream");
  response.set("X-Berth-File-Size", std::to_string(size < 0 ? 0 : size));
  co_await exchange.respond(std::move(response));
}

// The image a task runs from. Its ExposedPorts are shown, not acted on: as
// in Mesos, ports come from the task's port resources and mappings.
json::object AgentProcess::image_json(const fetcher::PulledImage& image) {
  json::array ports;
  for (const auto& port : image.config.exposed_ports) ports.emplace_back(port);
  return json::object{{"reference", image.record.reference},
                      {"manifest_digest", image.record.manifest_digest.str()},
                      {"exposed_ports", std::move(ports)}};
}

std::string AgentProcess::state_json() const {
  json::object state;
  state["id"] = agent_id_;
  state["hostname"] = flags_.hostname;
  state["port"] = server_.port();
  state["version"] = BERTH_VERSION;
  state["master"] = fmt::format("{}:{}", master_.host, master_.port);
  state["registered"] = registered_;
  state["start_time"] = start_time_;
  state["work_dir"] = work_dir_.string();
  state["resources"] = resources_json(resources_.total());
  json::object reserved;
  for (const auto& [role, pool] : resources_.pools()) {
    if (role != "*") reserved[role] = resources_json(pool);
  }
  state["reserved_resources"] = std::move(reserved);
  Resources used;
  json::array frameworks;
  std::map<std::string, json::array> tasks_by_framework;
  for (const auto& [key, entry] : tasks_) {
    auto resources = Resources::from_proto(entry.task.resources()).value_or(Resources{});
    if (!is_terminal(entry.state)) used += resources;
    auto& task = tasks_by_framework[key.first].emplace_back(json::object{
        {"id", key.second},
        {"name", entry.task.name()},
        {"framework_id", key.first},
        {"state", v1::TaskState_Name(entry.state)},
        {"container_id", entry.container_id},
        {"pid", entry.process.pid},
        {"sandbox", (entry.container_dir / "sandbox").string()},
        {"cgroup", containerizer_->cgroup(entry.container_id)},
        {"limits", limits_json(entry.limits)},
        {"resources", resources_json(resources)}}).as_object();
    if (entry.image) task["image"] = image_json(*entry.image);
  }
  for (auto& [framework_id, tasks] : tasks_by_framework) {
    frameworks.push_back(json::object{{"id", framework_id}, {"tasks", std::move(tasks)}});
  }
  state["used_resources"] = resources_json(used);
  state["frameworks"] = std::move(frameworks);
  json::array completed;
  for (const auto& [key, task_state] : completed_) {
    completed.push_back(json::object{
        {"framework_id", key.first}, {"id", key.second}, {"state", v1::TaskState_Name(task_state)}});
  }
  state["completed_tasks"] = std::move(completed);
  json::array controllers;
  for (const auto& controller : containerizer_->cgroup_controllers()) controllers.push_back(json::value(controller));
  state["cgroup_controllers"] = std::move(controllers);
  json::array missing;
  for (const auto& controller : containerizer_->missing_cgroup_controllers()) missing.push_back(json::value(controller));
  state["cgroup_controllers_missing"] = std::move(missing);
  state["exit_watch_backend"] = std::string(containerizer_->exit_watch_backend());
  state["status_updates_pending"] = status_updates_.pending();
  json::array recovery_errors;
  for (const auto& problem : recovery_errors_) {
    recovery_errors.push_back(json::object{{"container_id", problem.container_id}, {"error", problem.error}});
  }
  state["recovery_errors"] = std::move(recovery_errors);
  return json::serialize(state);
}

// One sample of every running container's cgroup statistics, with the
// task it runs.
std::vector<AgentProcess::ContainerReport> AgentProcess::container_reports() {
  std::map<std::string, const TaskEntry*> by_container;
  for (const auto& [key, entry] : tasks_) by_container[entry.container_id] = &entry;
  std::vector<ContainerReport> reports;
  for (const auto& sample : containerizer_->sample()) {
    auto entry = by_container.find(sample.container_id);
    if (entry == by_container.end()) continue;
    if (!sample.status) {
      log::debug("No statistics for container {}: {}", sample.container_id, sample.status.error().what());
      continue;
    }
    reports.push_back({entry->second, &sample.statistics, containerizer_->network_usage(sample.container_id)});
  }
  return reports;
}

std::string AgentProcess::containers_json() {
  json::array out;
  auto timestamp = now_seconds();
  for (const auto& report : container_reports()) {
    const auto& entry = *report.entry;
    auto statistics = statistics_json(*report.statistics, entry.limits, timestamp);
    if (report.network) add_network_json(statistics, *report.network);
    out.push_back(json::object{{"container_id", entry.container_id},
                               {"framework_id", entry.framework.id().value()},
                               {"executor_id", entry.task.task_id().value()},
                               {"executor_name", entry.task.name()},
                               {"statistics", std::move(statistics)}});
  }
  return json::serialize(out);
}

std::string AgentProcess::metrics_text() {
  metrics_.describe("berth_agent_registered", "gauge", "1 while registered with a master");
  metrics_.set("berth_agent_registered", {}, registered_ ? 1 : 0);
  metrics_.describe("berth_agent_tasks", "gauge", "Tasks on this agent not yet acknowledged as terminal");
  metrics_.set("berth_agent_tasks", {}, static_cast<double>(tasks_.size()));
  metrics_.describe("berth_agent_status_updates_pending", "gauge", "Status updates awaiting acknowledgement");
  metrics_.set("berth_agent_status_updates_pending", {}, static_cast<double>(status_updates_.pending()));
  metrics_.describe("berth_agent_containers_launched_total", "counter", "Containers launched");
  metrics_.describe("berth_agent_container_launch_errors_total", "counter", "Containers that failed to launch");
  metrics_.describe("berth_agent_task_updates_total", "counter", "Task status updates generated, by state");
  metrics_.describe("berth_agent_recovery_seconds", "gauge",
                    "How long rebuilding the agent's state from its work directory took at its start");
  metrics_.set("berth_agent_recovery_seconds", {}, recovery_seconds_);
  metrics_.describe("berth_agent_recovery_errors_total", "counter",
                    "Checkpoint files the agent could not read back at its start (see /state recovery_errors)");
  metrics_.describe("berth_agent_cpus", "gauge", "CPUs advertised to the master");
  metrics_.set("berth_agent_cpus", {}, resources_.total().cpus());
  metrics_.describe("berth_agent_memory_bytes", "gauge", "Memory advertised to the master");
  metrics_.set("berth_agent_memory_bytes", {}, resources_.total().mem_mb() * 1024 * 1024);
  metrics_.describe("berth_agent_cgroup_controller_enabled", "gauge",
                    "1 for each cgroup controller --isolation asked for that is in use, 0 if it is missing");
  for (const auto& controller : containerizer_->cgroup_controllers()) {
    metrics_.set("berth_agent_cgroup_controller_enabled", {{"controller", controller}}, 1);
  }
  for (const auto& controller : containerizer_->missing_cgroup_controllers()) {
    metrics_.set("berth_agent_cgroup_controller_enabled", {{"controller", controller}}, 0);
  }
  // Containers come and go: their series are rendered afresh on each scrape.
  metrics::Registry containers;
  describe_container_metrics(containers);
  for (const auto& report : container_reports()) {
    const auto& entry = *report.entry;
    metrics::Labels labels{{"container_id", entry.container_id},
                           {"framework_id", entry.framework.id().value()},
                           {"task_id", entry.task.task_id().value()}};
    add_container_metrics(containers, labels, *report.statistics);
    if (report.network) add_network_metrics(containers, labels, *report.network);
  }
  return metrics_.render() + containers.render();
}

}  // namespace berth::agent
