#pragma once
// Tasks that run from a container image, with Mesos's semantics: the image a
// TaskInfo names (ContainerInfo type MESOS with a DOCKER image, or type
// DOCKER with docker.image), and how the image's config and the task's
// CommandInfo combine into what runs (as Mesos's docker/runtime isolator
// does):
//   - shell=true: /bin/sh -c <value>; Entrypoint and Cmd are ignored;
//   - shell=false with a value: the value runs with the task's arguments
//     (argv[0] included); Entrypoint and Cmd are ignored;
//   - shell=false without a value: Entrypoint, then the task's arguments if
//     it has any, else Cmd.
// The environment is the image's Env with the task's variables on top; the
// working directory the image's WorkingDir, else "/"; the user the image's
// User unless the task names one.

#include <optional>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/fetcher/image_config.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth::agent {

// The Docker image a task asks for, and whether a copy the agent already
// holds will do: Mesos pulls again only for Image.cached = false (MESOS
// containers; it defaults to true) or DockerInfo.force_pull_image = true
// (DOCKER containers; it defaults to false).
struct TaskImage {
  std::string name;
  bool force_pull = false;
  bool operator==(const TaskImage&) const = default;
};

// nullopt for a task on the host's filesystem. An error for what Berth cannot
// run (an AppC image).
Result<std::optional<TaskImage>> task_image(const mesos::v1::TaskInfo& task);

struct ImageCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, the image's then the task's
  std::string cwd;
  std::string user;  // "uid[:gid]" or a name; empty: root
};

// `task_env` are the agent's and the task's variables (they override the image's).
Result<ImageCommand> image_command(const mesos::v1::CommandInfo& command, const fetcher::ImageConfig& config,
                                   const std::vector<std::string>& task_env);

// A user as the image writes it, resolved against the image's /etc/passwd and
// /etc/group text when it is a name: "1000", "1000:1000", "nobody",
// "app:staff". Errors name the user.
struct ImageUser {
  unsigned uid = 0;
  unsigned gid = 0;
};
Result<ImageUser> resolve_image_user(const std::string& user, const std::string& passwd, const std::string& group);

}  // namespace berth::agent
