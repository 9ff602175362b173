#pragma once
// The OCI runtime command-line interface over the launcher library:
//
//   berth-runtime [--root DIR] [--cgroup-root DIR] create --bundle DIR [--pid-file FILE] ID
//   berth-runtime start ID
//   berth-runtime state ID
//   berth-runtime kill ID [SIGNAL]
//   berth-runtime delete [--force] ID
//   berth-runtime run --bundle DIR [--pid-file FILE] ID
//
// create sets the container up (namespaces, rootfs, mounts, ...) and leaves
// its init waiting at the start gate; start lets it run the process; run does
// both, waits for the process and deletes the container, exiting with the
// process's exit code. The container's stdio is the caller's.

#include <csignal>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "berth/common/error.hpp"

namespace berth::runtime {

struct GlobalOptions {
  std::filesystem::path root = "/run/berth-runtime";  // state of every container
  // Containers' cgroups go under it (relative linux.cgroupsPath, or the id);
  // empty: <cgroup2 mount>/berth-runtime.
  std::filesystem::path cgroup_root;
};

struct CreateOptions {
  std::string id;
  std::filesystem::path bundle = ".";
  std::filesystem::path pid_file;  // empty: none
};

Result<void> create(const GlobalOptions& global, const CreateOptions& options);
Result<void> start(const GlobalOptions& global, const std::string& id);
// Writes the runtime-spec state JSON of the container.
Result<void> state(const GlobalOptions& global, const std::string& id, std::ostream& out);
Result<void> kill(const GlobalOptions& global, const std::string& id, int signal);
Result<void> destroy(const GlobalOptions& global, const std::string& id, bool force);
// Returns the process's exit code (128 + N when killed by signal N).
Result<int> run(const GlobalOptions& global, const CreateOptions& options);

// "TERM", "SIGTERM", "15" -> 15; error naming the text otherwise.
Result<int> parse_signal(std::string_view text);

}  // namespace berth::runtime
