#include "task_builder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace berth::cli {
namespace {

RunOptions options_for(std::vector<std::string> command) {
  RunOptions options;
  options.command = std::move(command);
  return options;
}

v1::Offer an_offer() {
  v1::Offer offer;
  offer.mutable_id()->set_value("o1");
  offer.mutable_framework_id()->set_value("f1");
  offer.mutable_agent_id()->set_value("a1");
  offer.set_hostname("host1");
  return offer;
}

TEST(TaskBuilder, DefaultNameIsTheProgramsBaseName) {
  EXPECT_EQ(default_task_name({"/bin/echo", "hello"}), "echo");
  EXPECT_EQ(default_task_name({"sleep", "1"}), "sleep");
  EXPECT_EQ(default_task_name({"  /usr/bin/env FOO=1 true | wc"}), "env");
  EXPECT_EQ(default_task_name({"/"}), "task");
  EXPECT_EQ(default_task_name({}), "task");
}

TEST(TaskBuilder, TaskIdsAreSafePathComponents) {
  EXPECT_EQ(make_task_id("echo", "3f2a"), "echo-3f2a");
  EXPECT_EQ(make_task_id("my task/../x", "00ff"), "my_task_.._x-00ff");
  EXPECT_EQ(make_task_id("", "0001"), "task-0001");
  EXPECT_EQ(make_task_id(std::string(300, 'a'), "0001").size(), 205u);
  auto suffix = random_suffix();
  EXPECT_EQ(suffix.size(), 4u);
  EXPECT_TRUE(std::ranges::all_of(suffix, [](char c) { return std::isxdigit(c) && !std::isupper(c); })) << suffix;
}

TEST(TaskBuilder, PlainCommandKeepsArgvAsIs) {
  auto command = build_command(options_for({"/bin/echo", "hello world", "$HOME"}));
  ASSERT_TRUE(command) << command.error().what();
  EXPECT_FALSE(command->shell());
  EXPECT_EQ(command->value(), "/bin/echo");
  ASSERT_EQ(command->arguments_size(), 3);
  EXPECT_EQ(command->arguments(0), "/bin/echo");
  EXPECT_EQ(command->arguments(1), "hello world");
  EXPECT_EQ(command->arguments(2), "$HOME");
  EXPECT_FALSE(command->has_environment());
}

TEST(TaskBuilder, ShellCommandJoinsTheWords) {
  auto options = options_for({"echo", "$HOME", "|", "wc -c"});
  options.shell = true;
  options.env = {"A=1", "B=x=y", "EMPTY="};
  auto command = build_command(options);
  ASSERT_TRUE(command) << command.error().what();
  EXPECT_TRUE(command->shell());
  EXPECT_EQ(command->value(), "echo $HOME | wc -c");
  EXPECT_EQ(command->arguments_size(), 0);
  const auto& vars = command->environment().variables();
  ASSERT_EQ(vars.size(), 3);
  EXPECT_EQ(vars[0].name(), "A");
  EXPECT_EQ(vars[0].value(), "1");
  EXPECT_EQ(vars[1].name(), "B");
  EXPECT_EQ(vars[1].value(), "x=y");
  EXPECT_EQ(vars[2].name(), "EMPTY");
  EXPECT_EQ(vars[2].value(), "");
}

TEST(TaskBuilder, BadEnvIsRefused) {
  auto options = options_for({"true"});
  options.env = {"NOEQUALS"};
  auto command = build_command(options);
  ASSERT_FALSE(command);
  EXPECT_NE(command.error().message().find("NOEQUALS"), std::string::npos);
}

TEST(TaskBuilder, TaskInfoTargetsTheOffersAgent) {
  auto options = options_for({"/bin/echo", "hi"});
  v1::Resource cpus;
  cpus.set_name("cpus");
  cpus.set_type(v1::Value::SCALAR);
  cpus.mutable_scalar()->set_value(0.1);
  auto task = build_task_info(options, an_offer(), {cpus}, "echo-0001");
  ASSERT_TRUE(task) << task.error().what();
  EXPECT_EQ(task->name(), "echo");
  EXPECT_EQ(task->task_id().value(), "echo-0001");
  EXPECT_EQ(task->agent_id().value(), "a1");
  ASSERT_EQ(task->resources_size(), 1);
  EXPECT_DOUBLE_EQ(task->resources(0).scalar().value(), 0.1);
  EXPECT_EQ(task->command().value(), "/bin/echo");
  EXPECT_TRUE(task->IsInitialized());

  options.name = "greeting";
  auto named = build_task_info(options, an_offer(), {}, "greeting-0002");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->name(), "greeting");
}

TEST(TaskBuilder, UserBecomesTheCommandsUser) {
  auto options = options_for({"id"});
  EXPECT_FALSE(build_command(options)->has_user()) << "the framework's user, by default";
  options.user = "nobody";
  EXPECT_EQ(build_command(options)->user(), "nobody");
}

TEST(TaskBuilder, KillGracePeriodBecomesTheTasksKillPolicy) {
  auto options = options_for({"sleep", "60"});
  EXPECT_FALSE(build_task_info(options, an_offer(), {}, "sleep-0001")->has_kill_policy());
  options.kill_grace_period_s = 2.5;
  auto task = build_task_info(options, an_offer(), {}, "sleep-0002");
  ASSERT_TRUE(task) << task.error().what();
  EXPECT_EQ(task->kill_policy().grace_period().nanoseconds(), 2'500'000'000);
}

TEST(TaskBuilder, CapabilitiesAndSeccompProfileGoWhereTheAgentReadsThem) {
  auto options = options_for({"ip", "link"});
  options.capabilities = "CAP_NET_ADMIN,NET_RAW";
  options.seccomp_profile = "strict";
  auto task = build_task_info(options, an_offer(), {}, "ip-0001");
  ASSERT_TRUE(task) << task.error().what();
  const auto& effective = task->container().linux_info().effective_capabilities();
  ASSERT_EQ(effective.capabilities_size(), 2);
  EXPECT_EQ(effective.capabilities(0), v1::CapabilityInfo::NET_ADMIN);
  EXPECT_EQ(effective.capabilities(1), v1::CapabilityInfo::NET_RAW);
  EXPECT_EQ(task->container().type(), v1::ContainerInfo::MESOS);
  ASSERT_EQ(task->labels().labels_size(), 1);
  EXPECT_EQ(task->labels().labels(0).key(), "berth.seccomp_profile");
  EXPECT_EQ(task->labels().labels(0).value(), "strict");

  options.capabilities = "none";
  auto none = build_task_info(options, an_offer(), {}, "ip-0002");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->container().linux_info().has_effective_capabilities()) << "an empty set, not the default";
  EXPECT_EQ(none->container().linux_info().effective_capabilities().capabilities_size(), 0);

  options.capabilities = "CAP_FLY";
  EXPECT_EQ(build_task_info(options, an_offer(), {}, "ip-0003").error().what(),
            "--capabilities: unknown capability 'FLY'");
}

TEST(TaskBuilder, AnImageTaskNamesItsImageAndMayLeaveTheCommandToIt) {
  RunOptions options;
  options.image = "registry.local:5000/team/app:1.0";
  auto task = build_task_info(options, an_offer(), {}, "app-0001");
  ASSERT_TRUE(task) << task.error().what();
  ASSERT_TRUE(task->has_container());
  EXPECT_EQ(task->container().type(), v1::ContainerInfo::MESOS);
  EXPECT_EQ(task->container().mesos().image().type(), v1::Image::DOCKER);
  EXPECT_EQ(task->container().mesos().image().docker().name(), "registry.local:5000/team/app:1.0");
  EXPECT_FALSE(task->command().shell());
  EXPECT_FALSE(task->command().has_value()) << "the image's Entrypoint and Cmd run";
  EXPECT_EQ(task->name(), "app:1.0");
  EXPECT_TRUE(task->container().mesos().image().cached()) << "a copy the agent holds will do";
  options.force_pull = true;
  EXPECT_FALSE(build_task_info(options, an_offer(), {}, "app-0003")->container().mesos().image().cached());

  options.command = {"/bin/cat", "/etc/os-release"};
  auto with_command = build_task_info(options, an_offer(), {}, "cat-0002");
  ASSERT_TRUE(with_command);
  EXPECT_EQ(with_command->command().value(), "/bin/cat");
  EXPECT_EQ(with_command->command().arguments_size(), 2);
}

TEST(TaskBuilder, LimitsAndLabelsGoIntoTheTaskInfo) {
  auto options = options_for({"/bin/true"});
  options.cpus_limit = "2";
  options.mem_limit = "infinity";
  options.labels = {"berth.pids_max=64", "team=web=blue"};
  auto task = build_task_info(options, an_offer(), {}, "true-0001");
  ASSERT_TRUE(task) << task.error().what();
  ASSERT_EQ(task->limits().size(), 2u);
  EXPECT_DOUBLE_EQ(task->limits().at("cpus").value(), 2);
  EXPECT_TRUE(std::isinf(task->limits().at("mem").value()));
  ASSERT_EQ(task->labels().labels_size(), 2);
  EXPECT_EQ(task->labels().labels(0).key(), "berth.pids_max");
  EXPECT_EQ(task->labels().labels(0).value(), "64");
  EXPECT_EQ(task->labels().labels(1).key(), "team");
  EXPECT_EQ(task->labels().labels(1).value(), "web=blue");

  auto plain = build_task_info(options_for({"/bin/true"}), an_offer(), {}, "true-0002");
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->limits().empty());
  EXPECT_FALSE(plain->has_labels());
}

}  // namespace
}  // namespace berth::cli
