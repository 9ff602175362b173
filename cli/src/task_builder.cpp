#include "task_builder.hpp"

#include <fmt/format.h>

#include <ranges>

#include "berth/common/ids.hpp"

namespace berth::cli {
namespace {

bool path_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

}  // namespace

std::string default_task_name(const std::vector<std::string>& command) {
  if (command.empty()) return "task";
  std::string_view program = command.front();
  auto start = program.find_first_not_of(" \t");
  if (start == std::string_view::npos) return "task";
  program.remove_prefix(start);
  program = program.substr(0, program.find_first_of(" \t"));
  if (auto slash = program.rfind('/'); slash != std::string_view::npos) program.remove_prefix(slash + 1);
  return program.empty() ? "task" : std::string(program);
}

std::string make_task_id(std::string_view name, std::string_view suffix) {
  std::string id;
  for (char c : name.substr(0, 200)) id += path_safe(c) ? c : '_';
  if (id.empty() || id == "." || id == "..") id = "task";
  return fmt::format("{}-{}", id, suffix);
}

std::string random_suffix() {
  auto uuid = ids::random_uuid();
  return fmt::format("{:02x}{:02x}", uuid[0], uuid[1]);
}

Result<v1::CommandInfo> build_command(const RunOptions& options) {
  v1::CommandInfo command;
  if (options.command.empty()) {
    // The image's Entrypoint and Cmd (Mesos: shell=false without a value).
    command.set_shell(false);
  } else if (options.shell) {
    command.set_shell(true);
    command.set_value(join(options.command));
  } else {
    command.set_shell(false);
    command.set_value(options.command.front());
    for (const auto& arg : options.command) command.add_arguments(arg);
  }
  for (const auto& text : options.env) {
    BERTH_TRY(auto var, parse_env_var(text));
    auto* variable = command.mutable_environment()->add_variables();
    variable->set_name(std::move(var.first));
    variable->set_value(std::move(var.second));
  }
  if (!options.user.empty()) command.set_user(options.user);
  return command;
}

Result<v1::TaskInfo> build_task_info(const RunOptions& options, const v1::Offer& offer,
                                     const std::vector<v1::Resource>& resources, std::string task_id) {
  v1::TaskInfo task;
  task.set_name(options.name.empty() ? default_task_name(options.command.empty() ? std::vector{options.image}
                                                                                  : options.command)
                                     : options.name);
  task.mutable_task_id()->set_value(std::move(task_id));
  *task.mutable_agent_id() = offer.agent_id();
  for (const auto& resource : resources) *task.add_resources() = resource;
  BERTH_TRY(*task.mutable_command(), build_command(options));
  if (!options.cpus_limit.empty()) {
    BERTH_TRY(auto cpus, parse_limit("--cpus_limit", options.cpus_limit));
    (*task.mutable_limits())["cpus"].set_value(cpus);
  }
  if (!options.mem_limit.empty()) {
    BERTH_TRY(auto mem, parse_limit("--mem_limit", options.mem_limit));
    (*task.mutable_limits())["mem"].set_value(mem);
  }
  if (!options.image.empty()) {
    auto* container = task.mutable_container();
    container->set_type(v1::ContainerInfo::MESOS);
    auto* image = container->mutable_mesos()->mutable_image();
    image->set_type(v1::Image::DOCKER);
    image->mutable_docker()->set_name(options.image);
    if (options.force_pull) image->set_cached(false);
  }
  if (options.capabilities) {
    auto* effective = task.mutable_container()->mutable_linux_info()->mutable_effective_capabilities();
    auto names = *options.capabilities == "none" ? std::string() : *options.capabilities;
    for (auto part : std::views::split(names, ',')) {
      std::string name(part.begin(), part.end());
      if (name.empty()) continue;
      if (name.starts_with("CAP_")) name.erase(0, 4);
      v1::CapabilityInfo::Capability capability;
      if (!v1::CapabilityInfo::Capability_Parse(name, &capability) || capability == v1::CapabilityInfo::UNKNOWN) {
        return fail("--capabilities: unknown capability '" + name + "'");
      }
      effective->add_capabilities(capability);
    }
    if (!task.container().has_type()) task.mutable_container()->set_type(v1::ContainerInfo::MESOS);
  }
  if (options.network == "bridge") {
    // Mesos's way to put a container on a named network, with its mappings.
    auto* network = task.mutable_container()->add_network_infos();
    network->set_name("bridge");
    for (const auto& text : options.publish) {
      BERTH_TRY(auto published, parse_publish(text));
      auto* mapping = network->add_port_mappings();
      mapping->set_host_port(published.host_port);
      mapping->set_container_port(published.container_port);
      mapping->set_protocol(published.protocol);
    }
    if (!task.container().has_type()) task.mutable_container()->set_type(v1::ContainerInfo::MESOS);
  } else if (options.network == "none") {
    auto* label = task.mutable_labels()->add_labels();
    label->set_key("berth.network");
    label->set_value("none");
  }
  if (!options.seccomp_profile.empty()) {
    auto* label = task.mutable_labels()->add_labels();
    label->set_key("berth.seccomp_profile");
    label->set_value(options.seccomp_profile);
  }
  if (options.kill_grace_period_s) {
    task.mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(
        static_cast<std::int64_t>(*options.kill_grace_period_s * 1e9));
  }
  for (const auto& text : options.labels) {
    BERTH_TRY(auto kv, parse_env_var(text, "--label"));
    auto* label = task.mutable_labels()->add_labels();
    label->set_key(std::move(kv.first));
    label->set_value(std::move(kv.second));
  }
  return task;
}

}  // namespace berth::cli
