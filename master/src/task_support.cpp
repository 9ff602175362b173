// What of a TaskInfo Berth acts on. Mesos's protos carry many features; a
// task asking for one Berth does not provide is refused with TASK_ERROR and
// a reason naming the field, rather than run without it.

#include "task_support.hpp"

namespace berth::master {
namespace {

std::string not_supported(std::string_view field, std::string_view what) {
  return std::string(field) + ": " + std::string(what) + " not supported by Berth";
}

std::string container_problem(const v1::ContainerInfo& container, std::string_view where) {
  auto field = [&](std::string_view name) { return std::string(where) + ".container." + std::string(name); };
  if (container.volumes_size() > 0) return not_supported(field("volumes"), "volumes are");
  // One network: the agents' "bridge", with port mappings; not CNI networks.
  if (container.network_infos_size() > 1) return not_supported(field("network_infos"), "several networks are");
  if (container.network_infos_size() == 1) {
    const auto& network = container.network_infos(0);
    if (network.name() != "bridge") {
      return not_supported(field("network_infos[0].name"),
                           "networks other than \"bridge\" (CNI networks) are");
    }
    if (network.ip_addresses_size() > 0 || network.groups_size() > 0) {
      return not_supported(field("network_infos[0]"), "requested IP addresses and network groups are");
    }
  }
  if (container.has_rlimit_info()) return not_supported(field("rlimit_info"), "per-task rlimits are");
  if (container.has_tty_info()) return not_supported(field("tty_info"), "a TTY is");
  if (container.has_linux_info()) {
    const auto& linux_info = container.linux_info();
    if (linux_info.share_pid_namespace()) {
      return not_supported(field("linux_info.share_pid_namespace"), "sharing the agent's pid namespace is");
    }
  }
  if (container.has_mesos() && container.mesos().has_image()) {
    const auto& image = container.mesos().image();
    if (image.type() != v1::Image::DOCKER) return not_supported(field("mesos.image.type"), "APPC images are");
    if (image.docker().has_config() || image.docker().has_credential()) {
      return not_supported(field("mesos.image.docker.config"),
                           "per-task registry credentials are (the agent's --docker_config is used)");
    }
  }
  if (container.has_docker()) {
    const auto& docker = container.docker();
    // HOST, BRIDGE and NONE run on an agent's network isolator.
    if (docker.network() == v1::ContainerInfo::DockerInfo::USER) {
      return not_supported(field("docker.network"), "USER networks are");
    }
    if (docker.port_mappings_size() > 0 && docker.network() != v1::ContainerInfo::DockerInfo::BRIDGE) {
      return field("docker.port_mappings") + ": port mappings need BRIDGE networking; with " +
             v1::ContainerInfo::DockerInfo::Network_Name(docker.network()) +
             " the task listens on the ports of its resources";
    }
    if (docker.privileged()) return not_supported(field("docker.privileged"), "privileged containers are");
    if (docker.parameters_size() > 0) {
      return not_supported(field("docker.parameters"), "docker CLI parameters are");
    }
    if (!docker.volume_driver().empty()) return not_supported(field("docker.volume_driver"), "volume drivers are");
  }
  return {};
}

}  // namespace

std::string unsupported_task_feature(const v1::TaskInfo& task) {
  if (task.has_health_check()) return not_supported("task.health_check", "health checks are");
  if (task.has_check()) return not_supported("task.check", "checks are");
  if (task.has_max_completion_time()) return not_supported("task.max_completion_time", "a completion deadline is");
  if (task.has_command()) {
    const auto& command = task.command();
    if (command.uris_size() > 0) return not_supported("task.command.uris", "fetching URIs is");
    for (const auto& variable : command.environment().variables()) {
      if (variable.type() == v1::Environment::Variable::SECRET || variable.has_secret()) {
        return not_supported("task.command.environment." + variable.name(), "secret variables are");
      }
    }
  }
  for (const auto& resource : task.resources()) {
    if (resource.has_disk() && (resource.disk().has_persistence() || resource.disk().has_volume() ||
                                resource.disk().has_source())) {
      return not_supported("task.resources.disk", "persistent volumes and disk sources are");
    }
  }
  if (task.has_container()) return container_problem(task.container(), "task");
  return {};
}

std::string invalid_group_executor(const v1::ExecutorInfo& executor, const std::string& framework_id) {
  if (executor.type() != v1::ExecutorInfo::DEFAULT) {
    return "executor.type must be DEFAULT: Berth runs task groups with its own executor";
  }
  if (executor.has_command()) return "executor.command must not be set for the DEFAULT executor";
  if (executor.has_framework_id() && executor.framework_id().value() != framework_id) {
    return "executor.framework_id '" + executor.framework_id().value() + "' is not the framework's id";
  }
  if (executor.has_container()) {
    if (executor.container().type() != v1::ContainerInfo::MESOS) {
      return "executor.container.type must be MESOS for the DEFAULT executor";
    }
    if (executor.container().has_mesos() && executor.container().mesos().has_image()) {
      return "executor.container.mesos.image must not be set for the DEFAULT executor";
    }
    if (auto problem = container_problem(executor.container(), "executor"); !problem.empty()) return problem;
  }
  return {};
}

}  // namespace berth::master
