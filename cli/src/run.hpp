#pragma once
// `berth run`: runs one command as a task on the cluster and exits with its code.

#include "run_options.hpp"

namespace berth::cli {

// Runs `options.command` to its end (validated options); returns the exit code:
// the task's, 1 when it could not be run, 2 for a malformed --master.
// SIGINT and SIGTERM kill the task first, then return 130 / 143.
int run(const RunOptions& options);

}  // namespace berth::cli
