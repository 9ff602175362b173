#pragma once
// The agent's work directory. Everything a restarted agent needs to find its
// containers again lives here:
//
//   <work_dir>/
//     agent_id                        id given by the master, reused on re-registration
//     containers/<container_id>/
//       container.pb                  ContainerCheckpoint: framework, task, init pid + start
//                                     time, cgroup (written before launch, updated after)
//       status.pb                     latest TaskStatus sent for the task
//                                     (both as checksummed records, common/record.hpp: a
//                                     damaged one is reported, never half-believed)
//       acknowledged                  present once the master relayed the framework's
//                                     acknowledgement of the terminal status
//       acknowledged_status           the uuid of the latest non-terminal status the
//                                     framework acknowledged (a restarted agent re-sends
//                                     the latest status unless it is this one)
//       runtime/exit_status           the task's wait status, written by the container's init
//       sandbox/                      the task's working directory
//         stdout, stderr              its output
//     userns/<container_id>           "<first host id> <count>": the ids a container's user
//                                     namespace holds (isolators/user_namespace.hpp)
//     network/leases/<address>        a bridge-mode container's address lease, host interface
//                                     and port mappings (isolators/network/ipam.hpp)
//     network/containers/<id>/        its hosts, hostname and resolv.conf
//
// A few container directories are made ahead, on the checkpoint thread, so
// that a launch does not wait on the disk for them: one with neither
// container.pb nor status.pb is such a spare, and a restarted agent removes it.

#include <filesystem>
#include <string>

namespace berth::agent::paths {

namespace fs = std::filesystem;

fs::path agent_id_file(const fs::path& work_dir);
fs::path containers_dir(const fs::path& work_dir);
fs::path container_dir(const fs::path& work_dir, const std::string& container_id);
fs::path checkpoint_file(const fs::path& container_dir);
fs::path status_file(const fs::path& container_dir);
fs::path acknowledged_file(const fs::path& container_dir);
fs::path acknowledged_status_file(const fs::path& container_dir);
fs::path runtime_dir(const fs::path& container_dir);
fs::path sandbox_dir(const fs::path& container_dir);
fs::path stdout_file(const fs::path& container_dir);
fs::path stderr_file(const fs::path& container_dir);

}  // namespace berth::agent::paths
