#pragma once
// The TaskInfo for the command the user gave, and the names that identify it.

#include <string>
#include <string_view>
#include <vector>

#include "mesos/v1/mesos.pb.h"
#include "run_options.hpp"

namespace berth::cli {

namespace v1 = berth::mesos::v1;

// The task's name when --name is not given: the base name of the program, e.g.
// "echo" for /bin/echo (for --shell, of the command line's first word).
std::string default_task_name(const std::vector<std::string>& command);

// "<name>-<suffix>", with every byte the agent would not accept in a sandbox path
// component replaced by '_'.
std::string make_task_id(std::string_view name, std::string_view suffix);
// Four random hex digits: a task id only has to be unique within its framework,
// and every `berth run` is a framework of its own.
std::string random_suffix();

// The CommandInfo: with --shell, the arguments joined by spaces for /bin/sh -c;
// otherwise argv as given, with argv[0] as the program.
Result<v1::CommandInfo> build_command(const RunOptions& options);

// The task to launch on `offer`, taking `resources` from it.
Result<v1::TaskInfo> build_task_info(const RunOptions& options, const v1::Offer& offer,
                                     const std::vector<v1::Resource>& resources, std::string task_id);

}  // namespace berth::cli
