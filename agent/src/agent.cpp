#include "berth/agent/agent.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <ranges>

#include "agent_process.hpp"
#include "berth/agent/isolation.hpp"
#include "berth/agent/task_network.hpp"
#include "berth/isolators/cgroupfs.hpp"
#include "berth/agent/paths.hpp"
#include "berth/agent/resources_detect.hpp"
#include "berth/common/clock.hpp"
#include "berth/common/codec.hpp"
#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/recordio.hpp"
#include "berth/common/task_state.hpp"

namespace berth::agent {

AgentProcess::AgentProcess(asio::any_io_executor executor, Flags flags)
    : executor_(executor),
      flags_(std::move(flags)),
      work_dir_(flags_.work_dir),
      server_(executor, http::Server::Options{.address = flags_.ip,
                                              .port = flags_.port,
                                              .max_body_bytes = flags_.max_request_bytes}),
      status_updates_([this](const std::string& framework_id,
                             const v1::TaskStatus& status) { send_update(framework_id, status); },
                      to_ms(flags_.status_update_retry_interval)),
      backoff_timer_(executor),
      tick_timer_(executor),
      start_time_(now_seconds()) {
  if (flags_.hostname.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    flags_.hostname = name;
  }
}

namespace {

// Each container's stat files stay open for sampling (~4-11 per container):
// take the whole hard limit, which needs no privilege.
void raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) log::warn("Cannot raise RLIMIT_NOFILE: {}", std::strerror(errno));
}

// --user_namespaces and --user_namespace_ids=FIRST:COUNT; the leases live in <work_dir>/userns.
Result<isolators::UserNamespaceOptions> user_namespace_options(const Flags& flags, const fs::path& work_dir) {
  isolators::UserNamespaceOptions options;
  options.by_default = flags.user_namespaces;
  options.leases_dir = work_dir / "userns";
  const auto& text = flags.user_namespace_ids;
  auto colon = text.find(':');
  auto bad = [&] { return fail("--user_namespace_ids: expected FIRST:COUNT (e.g. 100000:4194304), not '" + text + "'"); };
  if (colon == std::string::npos) return bad();
  auto first = std::from_chars(text.data(), text.data() + colon, options.first_id);
  auto count = std::from_chars(text.data() + colon + 1, text.data() + text.size(), options.id_count);
  if (first.ec != std::errc{} || first.ptr != text.data() + colon || count.ec != std::errc{} ||
      count.ptr != text.data() + text.size()) {
    return bad();
  }
  return options;
}

// The network isolator's options, or none when --isolation does not name
// network/bridge. The flags are checked either way.
Result<std::optional<isolators::NetworkOptions>> network_options(const Flags& flags, const fs::path& work_dir) {
  isolators::NetworkOptions options;
  options.state_dir = work_dir / "network";
  options.bridge = flags.network_bridge;
  BERTH_TRY_VOID(with_context(isolators::check_interface_name(flags.network_bridge), "--network_bridge"));
  BERTH_TRY(options.subnet, with_context(isolators::network::Ipv4Cidr::parse(flags.network_cidr), "--network_cidr"));
  if (!flags.egress_rate_limit_per_container.empty()) {
    BERTH_TRY(options.egress_rate, with_context(parse_bytes(flags.egress_rate_limit_per_container),
                                                "--egress_rate_limit_per_container"));
  }
  if (!flags.ingress_rate_limit_per_container.empty()) {
    BERTH_TRY(options.ingress_rate, with_context(parse_bytes(flags.ingress_rate_limit_per_container),
                                                 "--ingress_rate_limit_per_container"));
  }
  if (!network_isolation(flags.isolation)) return std::optional<isolators::NetworkOptions>{};
  return std::optional(std::move(options));
}

}  // namespace

Result<void> AgentProcess::start() {
  if (is_zookeeper_url(flags_.master)) {
    BERTH_TRY(auto url, with_context(parse_zookeeper_url(flags_.master), "--master"));
    master_known_ = false;
    auto executor = executor_;
    leader_watch_ = LeaderWatch::start({
        .url = url,
        .contend = std::nullopt,
        .on_change = [this, executor](const std::optional<v1::MasterInfo>& leader) {
          asio::post(executor, [this, leader] { leading_master_changed(leader); });
        },
    });
  } else {
    BERTH_TRY(master_, with_context(http::parse_endpoint(flags_.master, 5050), "--master"));
  }
  BERTH_TRY_VOID(with_context(files::make_dirs(paths::containers_dir(work_dir_)), "--work_dir"));
  work_dir_ = fs::canonical(work_dir_);
  BERTH_TRY(auto facts, probe_host(work_dir_));
  BERTH_TRY(resources_, agent_resources(facts, flags_.resources));
  if (resources_.total().cpus() <= 0 || resources_.total().mem_mb() <= 0) {
    return fail("--resources: the agent must offer some cpus and mem, not '" + resources_.to_string() + "'");
  }
  fs::path cgroups_root = flags_.cgroups_root;
  if (cgroups_root.empty()) {
    BERTH_TRY(cgroups_root, default_cgroups_root());
  }
  // Under systemd (Delegate=yes) --cgroups_root lies in the agent's own cgroup.
  BERTH_TRY(auto leaf, with_context(isolators::cgroupfs::leave_for_leaf(cgroups_root), "--cgroups_root"));
  if (leaf) log::info("Moved the agent into {} so that its cgroup passes controllers on to containers", leaf->string());
  BERTH_TRY(auto controllers, cgroup_controllers_for(flags_.isolation));
  isolators::CgroupsOptions cgroups{.root = cgroups_root,
                                    .required = std::move(controllers),
                                    .allow_missing = flags_.allow_missing_cgroup_controllers};
  isolators::SecurityOptions security{.seccomp_config_dir = flags_.seccomp_config_dir,
                                      .seccomp_profile_name = flags_.seccomp_profile_name,
                                      .allow_unconfined_tasks = flags_.seccomp_allow_unconfined};
  if (!flags_.bounding_capabilities.empty()) {
    std::set<std::string> caps;
    for (auto part : std::views::split(std::string_view(flags_.bounding_capabilities), ',')) {
      std::string name(part.begin(), part.end());
      if (!name.empty()) caps.insert(name.starts_with("CAP_") ? name : "CAP_" + name);
    }
    security.max_capabilities = std::move(caps);
  }
  BERTH_TRY(auto userns, user_namespace_options(flags_, work_dir_));
  BERTH_TRY(auto network, network_options(flags_, work_dir_));
  BERTH_TRY(containerizer_, Containerizer::create(executor_, cgroups, std::move(security), std::move(userns),
                                                  std::move(network)));
  raise_open_files_limit();
  fs::path image_store = flags_.image_store_dir.empty() ? work_dir_ / "images" : fs::path(flags_.image_store_dir);
  BERTH_TRY(images_, with_context(fetcher::ImageStore::open(image_store), "--image_store_dir"));
  BERTH_TRY(docker_registry_, parse_docker_registry_flag(flags_.docker_registry));
  fetcher::RegistryOptions registry{.ca_file = flags_.registry_ca_file, .docker_config = flags_.docker_config};
  for (auto part : std::views::split(std::string_view(flags_.insecure_registries), ',')) {
    if (auto name = std::string(part.begin(), part.end()); !name.empty()) registry.insecure_registries.push_back(name);
  }
  if (const auto* mirror = std::get_if<DefaultRegistry>(&docker_registry_); mirror && mirror->insecure) {
    registry.insecure_registries.push_back(mirror->host);
  }
  BERTH_TRY(registry_, with_context(fetcher::RegistryClient::create(registry), "--registry_ca_file"));
  puller_ = std::make_unique<fetcher::Puller>(*images_, *registry_,
                                              fetcher::PullOptions{.parallel_layers = flags_.image_pull_parallelism});
  pulls_ = std::make_unique<asio::thread_pool>(2);
  auto recovery_began = std::chrono::steady_clock::now();
  BERTH_TRY_VOID(with_context(recover(), "recovery"));
  recovery_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - recovery_began).count();
  if (!tasks_.empty() || !recovery_errors_.empty()) {
    log::info("Recovered {} tasks in {:.1f} ms ({} checkpoints unreadable)", tasks_.size(), recovery_seconds_ * 1e3,
              recovery_errors_.size());
  }
  resume_launches();
  make_spare_container_dirs();
  add_routes();
  BERTH_TRY_VOID(with_context(server_.listen(), fmt::format("listen on {}:{}", flags_.ip, flags_.port)));
  log::info("Agent listening on {}:{} with {}; containers under {}", flags_.ip, server_.port(),
            resources_.to_string(), cgroups_root.string());
  asio::co_spawn(executor_, master_loop(), asio::detached);
  asio::co_spawn(executor_, tick_loop(), asio::detached);
  return {};
}

void AgentProcess::stop() {
  stopping_ = true;
  leader_watch_.reset();
  backoff_timer_.cancel();
  tick_timer_.cancel();
  if (master_stream_) master_stream_->close();
  for (auto& [key, entry] : tasks_) {
    if (entry.kill_timer) entry.kill_timer->cancel();
  }
  containerizer_->release_all();
  server_.stop();
  // A pull in progress stops at its next bytes (the layers it committed
  // stay in the store); the next agent takes its task's launch up again.
  if (puller_) puller_->cancel();
  if (pulls_) pulls_->join();
  checkpointer_.drain();  // what was recorded is on disk before the agent exits
}

agent::Call AgentProcess::registration() const {
  agent::Call call;
  call.set_type(agent::Call::REGISTER);
  auto* info = call.mutable_register_()->mutable_agent_info();
  info->set_hostname(flags_.hostname);
  info->set_port(server_.port());
  *info->mutable_resources() = resources_.to_proto(ResourcePools::Format::post_refinement);
  if (!agent_id_.empty()) {
    info->mutable_id()->set_value(agent_id_);
    call.mutable_agent_id()->set_value(agent_id_);
  }
  call.mutable_register_()->set_version(BERTH_VERSION);
  for (const auto& [key, entry] : tasks_) {
    auto* task = call.mutable_register_()->add_tasks();
    task->mutable_framework_id()->set_value(key.first);
    *task->mutable_task() = entry.task;
    task->set_state(entry.state);
    *task->mutable_framework() = entry.framework;
    if (entry.task.has_executor()) *task->mutable_executor() = entry.task.executor();
  }
  return call;
}

// With --master=zk://..., ZooKeeper names the leading master: a new leader
// ends the session with the old one, and the agent registers with the new.
void AgentProcess::leading_master_changed(const std::optional<v1::MasterInfo>& leader) {
  if (stopping_) return;
  if (!leader) {
    log::warn("No leading master is known");
    master_known_ = false;
    return;
  }
  auto endpoint = http::parse_endpoint(master_endpoint(*leader), 5050);
  if (!endpoint) {
    log::error("Leading master {}: {}", leader->id(), endpoint.error().what());
    return;
  }
  bool moved = !master_known_ || endpoint->host != master_.host || endpoint->port != master_.port;
  master_ = *endpoint;
  master_known_ = true;
  if (!moved) return;
  log::info("Leading master is {} at {}:{}", leader->id(), master_.host, master_.port);
  if (master_stream_ != nullptr) {
    redirected_ = true;  // the session ends now; register with the new leader at once
    master_stream_->close();
  }
  retry_soon_ = true;
  backoff_timer_.cancel();
}

asio::awaitable<void> AgentProcess::master_loop() {
  double backoff = flags_.registration_backoff_factor;
  while (!stopping_) {
    if (!master_known_) {
      backoff_timer_.expires_after(std::chrono::milliseconds(200));
      boost::system::error_code ec;
      co_await backoff_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto result = co_await session();
    if (redirected_) {  // a standby master, or ZooKeeper, named another leader: go there now
      redirected_ = false;
      registered_ = false;
      master_stream_ = nullptr;
      continue;
    }
    bool was_registered = registered_;
    registered_ = false;
    master_stream_ = nullptr;
    if (stopping_) break;
    if (was_registered || retry_soon_) backoff = flags_.registration_backoff_factor;
    retry_soon_ = false;
    log::warn("Master at {}:{} unreachable ({}); retrying in {:.1f}s", master_.host, master_.port,
              result ? "connection ended" : result.error().what(), backoff);
    backoff_timer_.expires_after(to_ms(backoff));
    boost::system::error_code ec;
    co_await backoff_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, 60.0);
  }
}

asio::awaitable<Result<void>> AgentProcess::session() {
  auto body = registration().SerializeAsString();
  auto request = http::make_request(http::Verb::post, "/api/v1/agent", std::move(body), codec::kProtobufType);
  request.set(boost::beast::http::field::accept, codec::kProtobufType);
  auto opened = co_await http::StreamingResponse::open(master_, std::move(request), std::chrono::seconds(10));
  if (!opened) co_return fail(std::move(opened).error());
  auto stream = std::move(*opened);
  // A standby names the leader. With ZooKeeper, ZooKeeper's word counts: a
  // standby that has not yet heard of a new election still names the old,
  // perhaps dead, leader.
  if (stream->status() == http::Status::temporary_redirect && leader_watch_) {
    retry_soon_ = true;
    co_return fail(fmt::format("master at {}:{} is not the leader yet", master_.host, master_.port));
  }
  if (stream->status() == http::Status::temporary_redirect) {
    auto location = http::parse_endpoint(std::string(stream->head()[boost::beast::http::field::location]), 5050);
    if (location && (location->host != master_.host || location->port != master_.port)) {
      log::info("Master at {}:{} is not the leader; registering with {}:{}", master_.host, master_.port,
                location->host, location->port);
      master_ = *location;
      redirected_ = true;
      co_return Result<void>{};
    }
  }
  if (stream->status() != http::Status::ok) {
    auto text = co_await stream->read_all(std::chrono::seconds(5));
    co_return fail(fmt::format("master refused registration: {} {}", static_cast<int>(stream->status()),
                               text ? *text : ""));
  }
  master_stream_ = stream.get();
  recordio::Decoder decoder;
  std::vector<std::string> records;
  while (!stopping_) {
    // Three missed master heartbeats mean the connection is gone.
    auto idle = to_ms(heartbeat_interval_ * 3 + 1);
    auto data = co_await stream->read_some(idle);
    if (!data) co_return fail(std::move(data).error());
    records.clear();
    BERTH_CO_TRY_VOID(decoder.feed(*data, records));
    for (const auto& record : records) {
      agent::Event event;
      if (!event.ParseFromString(record)) co_return fail("malformed event from the master");
      handle_event(event);
    }
  }
  co_return Result<void>{};
}

void AgentProcess::handle_event(const agent::Event& event) {
  switch (event.type()) {
    case agent::Event::REGISTERED: {
      bool known = !agent_id_.empty();
      agent_id_ = event.registered().agent_id().value();
      if (event.registered().heartbeat_interval_seconds() > 0) {
        heartbeat_interval_ = event.registered().heartbeat_interval_seconds();
      }
      if (auto saved = files::write_atomic(paths::agent_id_file(work_dir_), agent_id_); !saved) {
        log::error("Failed to checkpoint the agent id: {}", saved.error().what());
      }
      registered_ = true;
      log::info("{} with master {}:{} as agent {}", known ? "Re-registered" : "Registered", master_.host,
                master_.port, agent_id_);
      status_updates_.resend_all();
      break;
    }
    case agent::Event::RUN_TASK:
      run_task(event.run_task().framework(), event.run_task().task());
      break;
    case agent::Event::RUN_TASK_GROUP:
      run_task_group(event.run_task_group());
      break;
    case agent::Event::SHUTDOWN_EXECUTOR:
      shutdown_executor(event.shutdown_executor().framework_id().value(),
                        event.shutdown_executor().executor_id().value());
      break;
    case agent::Event::KILL_TASK: {
      std::optional<double> grace;
      const auto& policy = event.kill_task().kill_policy();
      if (event.kill_task().has_kill_policy() && policy.has_grace_period()) {
        grace = static_cast<double>(policy.grace_period().nanoseconds()) / 1e9;
      }
      const auto& framework_id = event.kill_task().framework_id().value();
      const auto& task_id = event.kill_task().task_id().value();
      kill_task(framework_id, task_id, grace);
      // As Mesos's default executor: killing one task of a group kills the group.
      if (auto it = tasks_.find({framework_id, task_id}); it != tasks_.end() && it->second.task.has_executor()) {
        kill_executor_tasks(framework_id, it->second.task.executor().executor_id().value());
      }
      break;
    }
    case agent::Event::ACKNOWLEDGE:
      acknowledge(event.acknowledge());
      break;
    case agent::Event::SHUTDOWN_FRAMEWORK:
      shutdown_framework(event.shutdown_framework().framework_id().value());
      break;
    case agent::Event::HEARTBEAT:
    default:
      break;
  }
}

asio::awaitable<void> AgentProcess::tick_loop() {
  auto last_heartbeat = std::chrono::steady_clock::now();
  while (!stopping_) {
    tick_timer_.expires_after(std::chrono::milliseconds(500));
    boost::system::error_code ec;
    co_await tick_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_ || !registered_) continue;
    auto now = std::chrono::steady_clock::now();
    status_updates_.resend_due(now);
    if (now - last_heartbeat >= to_ms(flags_.heartbeat_interval)) {
      last_heartbeat = now;
      agent::Call call;
      call.set_type(agent::Call::HEARTBEAT);
      post_call(std::move(call));
    }
  }
}

void AgentProcess::post_call(agent::Call call) {
  if (!registered_) return;
  call.mutable_agent_id()->set_value(agent_id_);
  auto request = http::make_request(http::Verb::post, "/api/v1/agent", call.SerializeAsString(),
                                    codec::kProtobufType);
  request.set("Berth-Agent-Id", agent_id_);
  asio::co_spawn(
      executor_,
      [endpoint = master_, request = std::move(request)]() mutable -> asio::awaitable<void> {
        auto response = co_await http::request(endpoint, std::move(request), std::chrono::seconds(10));
        if (!response) {
          log::debug("Call to the master failed: {}", response.error().what());
        } else if (response->result() != http::Status::accepted) {
          log::warn("Master answered {}: {}", static_cast<int>(response->result()), response->body());
        }
      },
      asio::detached);
}

void AgentProcess::send_update(const std::string& framework_id, const v1::TaskStatus& status) {
  agent::Call call;
  call.set_type(agent::Call::STATUS_UPDATE);
  call.mutable_status_update()->mutable_framework_id()->set_value(framework_id);
  *call.mutable_status_update()->mutable_status() = status;
  post_call(std::move(call));
}

Agent::Agent(boost::asio::any_io_executor executor, Flags flags)
    : process_(std::make_unique<AgentProcess>(executor, std::move(flags))) {}
Agent::~Agent() = default;
Result<void> Agent::start() { return process_->start(); }
void Agent::stop() { process_->stop(); }
std::uint16_t Agent::port() const { return process_->port(); }

}  // namespace berth::agent
