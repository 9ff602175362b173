#pragma once
// `berth images`: the images an agent's store holds, and `berth images prune`,
// which has the agent remove what no image and no running container uses.

#include <CLI/CLI.hpp>

#include <string>

namespace berth::cli {

struct ImagesOptions {
  std::string agent = "127.0.0.1:5051";
  bool prune = false;  // set when the prune subcommand ran
};

// Declares `images` (with its `prune` subcommand) on `app`.
CLI::App* add_images_command(CLI::App& app, ImagesOptions& options);

// Prints the list or the prune's outcome; returns the exit code.
int images(const ImagesOptions& options);

}  // namespace berth::cli
