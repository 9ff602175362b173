#pragma once
// Command-line flags in Mesos's style (--name=value, every flag also settable
// from the environment as BERTH_<NAME>), on top of CLI11.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace berth::flags {

// Gives every long option of `app` (and its subcommands) an environment fallback
// BERTH_<NAME>, e.g. --work_dir <- BERTH_WORK_DIR. Call after adding the options.
void bind_env(CLI::App& app, std::string_view prefix = "BERTH_");

// Parses argv. On bad input prints a message naming the flag and returns the
// exit code to stop with (0 for --help/--version); nullopt to carry on.
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv);

}  // namespace berth::flags
