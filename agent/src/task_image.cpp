#include "berth/agent/task_image.hpp"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <sstream>

namespace berth::agent {
namespace {

namespace v1 = mesos::v1;

std::optional<unsigned> number(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The lines of a passwd- or group-format file, split at ':'.
std::vector<std::vector<std::string>> colon_lines(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::istringstream parts(line);
    for (std::string field; std::getline(parts, field, ':');) fields.push_back(field);
    out.push_back(std::move(fields));
  }
  return out;
}

// The fields of the entry whose first field is `name`.
std::optional<std::vector<std::string>> entry_named(const std::string& text, std::string_view name) {
  for (auto& fields : colon_lines(text)) {
    if (fields.size() >= 3 && fields[0] == name) return fields;
  }
  return std::nullopt;
}

}  // namespace

Result<std::optional<TaskImage>> task_image(const v1::TaskInfo& task) {
  if (!task.has_container()) return std::optional<TaskImage>{};
  const auto& container = task.container();
  if (container.type() == v1::ContainerInfo::DOCKER) {
    if (!container.has_docker() || container.docker().image().empty()) {
      return fail("container: type DOCKER needs docker.image");
    }
    return std::optional(TaskImage{container.docker().image(), container.docker().force_pull_image()});
  }
  if (!container.has_mesos() || !container.mesos().has_image()) return std::optional<TaskImage>{};
  const auto& image = container.mesos().image();
  if (image.type() != v1::Image::DOCKER) return fail("container.mesos.image: only DOCKER images are supported");
  if (!image.has_docker() || image.docker().name().empty()) return fail("container.mesos.image: docker.name is empty");
  return std::optional(TaskImage{image.docker().name(), !image.cached()});
}

Result<ImageCommand> image_command(const v1::CommandInfo& command, const fetcher::ImageConfig& config,
                                   const std::vector<std::string>& task_env) {
  ImageCommand out;
  if (command.shell()) {
    if (command.value().empty()) return fail("command: a shell command needs a value");
    out.argv = {"/bin/sh", "-c", command.value()};
  } else if (command.has_value() && !command.value().empty()) {
    out.argv.assign(command.arguments().begin(), command.arguments().end());
    if (out.argv.empty()) out.argv.push_back(command.value());
    out.argv.front() = command.value();
  } else {
    out.argv = config.entrypoint;
    if (command.arguments_size() > 0) {
      out.argv.insert(out.argv.end(), command.arguments().begin(), command.arguments().end());
    } else {
      out.argv.insert(out.argv.end(), config.cmd.begin(), config.cmd.end());
    }
    if (out.argv.empty()) return fail("command: none given, and the image has neither Entrypoint nor Cmd");
  }
  // Variables keep the image's order; the task's replace them or follow.
  std::map<std::string, std::size_t> position;
  for (const auto& variable : config.env) {
    auto name = variable.substr(0, variable.find('='));
    position[name] = out.env.size();
    out.env.push_back(variable);
  }
  for (const auto& variable : task_env) {
    auto name = variable.substr(0, variable.find('='));
    if (auto it = position.find(name); it != position.end()) {
      out.env[it->second] = variable;
    } else {
      position[name] = out.env.size();
      out.env.push_back(variable);
    }
  }
  out.cwd = config.working_dir.empty() ? "/" : config.working_dir;
  out.user = command.has_user() && !command.user().empty() ? command.user() : config.user;
  return out;
}

Result<ImageUser> resolve_image_user(const std::string& user, const std::string& passwd, const std::string& group) {
  if (user.empty()) return ImageUser{};
  auto colon = user.find(':');
  std::string name = user.substr(0, colon);
  std::optional<std::string> group_name;
  if (colon != std::string::npos) group_name = user.substr(colon + 1);
  ImageUser out;
  if (auto uid = number(name)) {
    // As Docker does: the primary group of the passwd entry with that uid, else 0.
    out.uid = *uid;
    for (const auto& fields : colon_lines(passwd)) {
      if (fields.size() >= 4 && number(fields[2]) == uid) {
        out.gid = number(fields[3]).value_or(0);
        break;
      }
    }
  } else {
    auto entry = entry_named(passwd, name);
    if (!entry || entry->size() < 4) return fail(fmt::format("user '{}': no such user in the image's /etc/passwd", name));
    auto entry_uid = number((*entry)[2]);
    auto entry_gid = number((*entry)[3]);
    if (!entry_uid || !entry_gid) return fail(fmt::format("user '{}': malformed /etc/passwd entry", name));
    out.uid = *entry_uid;
    out.gid = *entry_gid;
  }
  if (group_name) {
    if (auto gid = number(*group_name)) {
      out.gid = *gid;
    } else {
      auto entry = entry_named(group, *group_name);
      if (!entry) {
        return fail(fmt::format("group '{}': no such group in the image's /etc/group", *group_name));
      }
      auto entry_gid = number((*entry)[2]);
      if (!entry_gid) return fail(fmt::format("group '{}': malformed /etc/group entry", *group_name));
      out.gid = *entry_gid;
    }
  }
  return out;
}

}  // namespace berth::agent
