#pragma once
// The `berth` command line: subcommands, flags (each also settable as
// BERTH_<FLAG>), and the exit code for bad usage.

namespace berth::cli {

inline constexpr int kExitUsage = 2;

int berth_main(int argc, const char* const* argv);

}  // namespace berth::cli
