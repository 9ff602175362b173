#pragma once
// What berth-runtime remembers about a container between commands, one
// directory per container under the state root (--root):
//
//   <root>/<id>/
//     state.json     the runtime-spec state plus what re-attaching needs
//     lock           flock(2)ed by every command working on the container
//     exit_status    written by the container's init when the task ends
//     exec.fifo      the start gate: init waits on it between create and start
//
// Commands on different containers run concurrently; commands on the same
// container are serialised by the lock.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"

namespace berth::runtime {

// The runtime-spec lifecycle states.
enum class Status { creating, created, running, stopped };
std::string_view status_name(Status status);

struct ContainerState {
  std::string id;
  Status status = Status::creating;
  pid_t pid = 0;                  // the container's init, as the host sees it
  std::uint64_t start_time = 0;   // of `pid`, to tell it from a reused pid
  std::filesystem::path bundle;
  std::filesystem::path cgroup;   // the cgroup the runtime created, removed by delete
  std::string created;            // RFC 3339, UTC
  std::map<std::string, std::string> annotations;
};

// The runtime-spec state document (`state` prints it): ociVersion, id, status,
// pid (while the process exists), bundle, annotations.
std::string state_json(const ContainerState& state);

// Container ids: 1-1024 characters of [A-Za-z0-9_.+-], not "." or "..".
Result<void> check_id(std::string_view id);

class StateStore {
 public:
  explicit StateStore(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path dir(std::string_view id) const { return root_ / std::string(id); }

  // Makes <root>/<id> and locks it; error if the container already exists.
  Result<UniqueFd> create(std::string_view id);
  // Locks an existing container's directory; error naming the id if unknown.
  Result<UniqueFd> lock(std::string_view id);

  Result<void> save(const ContainerState& state);
  Result<ContainerState> load(std::string_view id) const;
  // Removes <root>/<id> and everything in it.
  Result<void> remove(std::string_view id);

 private:
  std::filesystem::path root_;
};

}  // namespace berth::runtime
