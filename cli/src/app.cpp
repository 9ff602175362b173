#include "app.hpp"

#include <iostream>
#include <optional>

#include "berth/common/flags.hpp"
#include "berth/common/log.hpp"
#include "images.hpp"
#include "pull.hpp"
#include "run.hpp"
#include "run_options.hpp"

namespace berth::cli {
namespace {

// Once per process; a second call (tests run the CLI in-process) only sets the level.
void init_logging(const std::string& level) {
  if (auto logger = spdlog::get("berth")) {
    logger->set_level(spdlog::level::from_str(level));
    return;
  }
  log::init("berth", level);
}

}  // namespace

int berth_main(int argc, const char* const* argv) {
  CLI::App app{"berth: run commands on a Berth cluster"};
  app.set_version_flag("--version", BERTH_VERSION);
  app.require_subcommand(1);
  RunOptions options;
  CLI::App* run_command = app.add_subcommand(
      "run", "Run one command as a task and exit with its exit code: berth run [flags] -- COMMAND [ARGS...]");
  add_run_flags(*run_command, options);
  ImagesOptions images_options;
  CLI::App* images_command = add_images_command(app, images_options);
  PullOptions pull_options;
  CLI::App* pull_command = add_pull_command(app, pull_options);
  flags::bind_env(app);

  auto split = split_at_double_dash(argc, argv);
  options.command = std::move(split.command);
  if (auto stop = flags::parse(app, static_cast<int>(split.flags.size()), split.flags.data())) {
    return *stop == 0 ? 0 : kExitUsage;
  }
  if (images_command->parsed()) {
    init_logging("warn");
    return images(images_options);
  }
  if (pull_command->parsed()) {
    init_logging("warn");
    return pull(pull_options);
  }
  if (auto valid = validate(options); !valid) {
    std::cerr << "berth run: " << valid.error().what() << "\nRun with --help for more information.\n";
    return kExitUsage;
  }
  init_logging(options.log_level);
  return run(options);
}

}  // namespace berth::cli
