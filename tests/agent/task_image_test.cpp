#include "berth/agent/task_image.hpp"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

namespace v1 = mesos::v1;
using Strings = std::vector<std::string>;

fetcher::ImageConfig busybox_config() {
  fetcher::ImageConfig config;
  config.entrypoint = {"/bin/sh", "-c"};
  config.cmd = {"echo hello"};
  config.env = {"PATH=/bin", "IMAGE=yes"};
  config.working_dir = "/home/app";
  config.user = "1000:1000";
  return config;
}

v1::CommandInfo command(bool shell, std::string value = "", Strings arguments = {}) {
  v1::CommandInfo c;
  c.set_shell(shell);
  if (!value.empty()) c.set_value(value);
  for (auto& a : arguments) c.add_arguments(a);
  return c;
}

TEST(TaskImage, TheImageATaskNames) {
  v1::TaskInfo task;
  EXPECT_FALSE(task_image(task).value().has_value());
  task.mutable_container()->set_type(v1::ContainerInfo::MESOS);
  EXPECT_FALSE(task_image(task).value().has_value()) << "MESOS without an image runs on the host's filesystem";
  auto* image = task.mutable_container()->mutable_mesos()->mutable_image();
  image->set_type(v1::Image::DOCKER);
  image->mutable_docker()->set_name("busybox:1.36");
  EXPECT_EQ(task_image(task).value(), (TaskImage{"busybox:1.36", false})) << "cached defaults to true";
  image->set_cached(false);
  EXPECT_EQ(task_image(task).value(), (TaskImage{"busybox:1.36", true}));
  image->set_type(v1::Image::APPC);
  EXPECT_EQ(task_image(task).error().message(), "container.mesos.image: only DOCKER images are supported");

  v1::TaskInfo docker;
  docker.mutable_container()->set_type(v1::ContainerInfo::DOCKER);
  EXPECT_EQ(task_image(docker).error().message(), "container: type DOCKER needs docker.image");
  docker.mutable_container()->mutable_docker()->set_image("registry.local/app@sha256:" + std::string(64, 'a'));
  EXPECT_EQ(task_image(docker).value(), (TaskImage{"registry.local/app@sha256:" + std::string(64, 'a'), false}));
  docker.mutable_container()->mutable_docker()->set_force_pull_image(true);
  EXPECT_TRUE(task_image(docker).value()->force_pull);
}

TEST(TaskImage, CommandsCombineAsMesosDoes) {
  auto config = busybox_config();
  EXPECT_EQ(image_command(command(true, "ls /"), config, {}).value().argv, (Strings{"/bin/sh", "-c", "ls /"}));
  EXPECT_EQ(image_command(command(false, "/bin/ls", {"ls", "-l"}), config, {}).value().argv,
            (Strings{"/bin/ls", "-l"}));
  EXPECT_EQ(image_command(command(false, "/bin/true"), config, {}).value().argv, (Strings{"/bin/true"}));
  EXPECT_EQ(image_command(command(false), config, {}).value().argv, (Strings{"/bin/sh", "-c", "echo hello"}));
  EXPECT_EQ(image_command(command(false, "", {"echo bye"}), config, {}).value().argv,
            (Strings{"/bin/sh", "-c", "echo bye"}));
  fetcher::ImageConfig bare;
  EXPECT_EQ(image_command(command(false), bare, {}).error().message(),
            "command: none given, and the image has neither Entrypoint nor Cmd");
  EXPECT_FALSE(image_command(command(true), config, {}));
}

TEST(TaskImage, EnvironmentWorkingDirectoryAndUser) {
  auto config = busybox_config();
  auto ran = image_command(command(false), config, {"PATH=/usr/bin:/bin", "MESOS_SANDBOX=/mnt/mesos/sandbox"});
  ASSERT_TRUE(ran);
  EXPECT_EQ(ran->env, (Strings{"PATH=/usr/bin:/bin", "IMAGE=yes", "MESOS_SANDBOX=/mnt/mesos/sandbox"}));
  EXPECT_EQ(ran->cwd, "/home/app");
  EXPECT_EQ(ran->user, "1000:1000");
  auto as_root = command(false);
  as_root.set_user("0");
  EXPECT_EQ(image_command(as_root, config, {}).value().user, "0");
  EXPECT_EQ(image_command(command(false), fetcher::ImageConfig{.cmd = {"x"}}, {}).value().cwd, "/");
}

TEST(TaskImage, UsersResolveAgainstTheImagesFiles) {
  std::string passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
  std::string group = "root:x:0:\nstaff:x:50:app\n";
  auto check = [&](const std::string& user, unsigned uid, unsigned gid) {
    auto resolved = resolve_image_user(user, passwd, group);
    ASSERT_TRUE(resolved) << user << ": " << resolved.error().what();
    EXPECT_EQ(resolved->uid, uid) << user;
    EXPECT_EQ(resolved->gid, gid) << user;
  };
  check("", 0, 0);
  check("1000", 1000, 1001);
  check("2000", 2000, 0);
  check("1000:7", 1000, 7);
  check("app", 1000, 1001);
  check("app:staff", 1000, 50);
  EXPECT_EQ(resolve_image_user("nobody", passwd, group).error().message(),
            "user 'nobody': no such user in the image's /etc/passwd");
  EXPECT_EQ(resolve_image_user("app:wheel", passwd, group).error().message(),
            "group 'wheel': no such group in the image's /etc/group");
}

}  // namespace
}  // namespace berth::agent
