#pragma once
// What the enforcement tests run in their containers: the test binary itself,
// re-exec'd with one of these flags (the guest has no compiler and busybox
// cannot fork-bomb, write with O_DIRECT or report errno names). Each workload
// reports on stdout, one line per event, so a test can wait for a line
// instead of sleeping.
//
//   --allocate MB             touch MB MiB of anonymous memory, say
//                             "allocated MB", then hold it until killed
//   --fork-bomb               every process forks until refused, says
//                             "fork: ERRNO" once and holds its pid
//   --busy-loop SECONDS       say "busy", spin for SECONDS of wall time, say
//                             "wall W cpu C" (seconds) and exit 0
//   --write-disk DEV MB       say "writing", write MB MiB to DEV with
//                             O_DIRECT, say "wrote MB MiB in S s"
//   --open-devices PATH...    say "PATH: ok" or "PATH: ERRNO" for an O_RDWR
//                             open of each

#include <optional>

namespace berth::vm {

// The workload's exit code if argv names one; nullopt for a test run.
std::optional<int> run_workload(int argc, char** argv);

}  // namespace berth::vm
