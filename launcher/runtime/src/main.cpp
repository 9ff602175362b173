// berth-runtime: the OCI runtime command-line interface over Berth's launcher.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "berth/runtime/commands.hpp"

namespace {

using berth::Result;

int report(const Result<void>& result) {
  if (result) return 0;
  std::fprintf(stderr, "berth-runtime: %s\n", result.error().what().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-runtime: an OCI runtime (create, start, state, kill, delete, run)"};
  app.require_subcommand(1);
  berth::runtime::GlobalOptions global;
  app.add_option("--root", global.root, "Directory holding the state of containers")->capture_default_str();
  app.add_option("--cgroup-root", global.cgroup_root, "cgroup v2 directory under which containers' cgroups are made (default: <cgroup2 mount>/berth-runtime)");

  berth::runtime::CreateOptions create_options;
  auto add_create_flags = [&](CLI::App* command) {
    command->add_option("id", create_options.id, "Container id")->required();
    command->add_option("-b,--bundle", create_options.bundle, "Bundle directory (holds config.json)")
        ->capture_default_str();
    command->add_option("--pid-file", create_options.pid_file, "File to write the container's pid to");
  };
  auto* create = app.add_subcommand("create", "Set a container up; its process waits for start");
  add_create_flags(create);
  auto* run = app.add_subcommand("run", "Create and start a container, wait for it, delete it");
  add_create_flags(run);

  std::string id;
  auto* start = app.add_subcommand("start", "Run the process of a created container");
  start->add_option("id", id, "Container id")->required();
  auto* state = app.add_subcommand("state", "Print the state of a container as JSON");
  state->add_option("id", id, "Container id")->required();
  std::string signal = "SIGTERM";
  auto* kill = app.add_subcommand("kill", "Send a signal to a container's process");
  kill->add_option("id", id, "Container id")->required();
  kill->add_option("signal", signal, "Signal name or number")->capture_default_str();
  bool force = false;
  auto* destroy = app.add_subcommand("delete", "Delete a stopped container (or any, with --force)");
  destroy->add_option("id", id, "Container id")->required();
  destroy->add_flag("-f,--force", force, "Kill the container first if it is running");

  CLI11_PARSE(app, argc, argv);

  if (create->parsed()) return report(berth::runtime::create(global, create_options));
  if (start->parsed()) return report(berth::runtime::start(global, id));
  if (state->parsed()) return report(berth::runtime::state(global, id, std::cout));
  if (destroy->parsed()) return report(berth::runtime::destroy(global, id, force));
  if (kill->parsed()) {
    auto number = berth::runtime::parse_signal(signal);
    if (!number) return report(berth::fail(std::move(number).error().context("kill")));
    return report(berth::runtime::kill(global, id, *number));
  }
  auto code = berth::runtime::run(global, create_options);
  if (!code) return report(berth::fail(std::move(code).error()));
  return *code;
}
