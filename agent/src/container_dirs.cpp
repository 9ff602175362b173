// Container directories, made ahead of the launches that take them: a
// launch then touches the disk only for its records, which the checkpoint
// thread writes while the container starts.

#include <fcntl.h>

#include "agent_process.hpp"
#include "berth/agent/paths.hpp"
#include "berth/common/fd.hpp"
#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"

namespace berth::agent {

namespace {

constexpr std::size_t kSpareContainerDirs = 4;

Result<void> make_empty_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
  if (fd.get() < 0) return fail(Error::sys("create", errno, path));
  return {};
}

}  // namespace

Result<void> make_container_dir(const fs::path& dir) {
  BERTH_TRY_VOID(files::make_dirs(paths::sandbox_dir(dir)));
  BERTH_TRY_VOID(files::make_dirs(paths::runtime_dir(dir)));
  BERTH_TRY_VOID(make_empty_file(paths::stdout_file(dir)));
  return make_empty_file(paths::stderr_file(dir));
}

Result<std::string> AgentProcess::new_container_dir() {
  std::string id;
  if (!spare_containers_.empty()) {
    id = std::move(spare_containers_.back());
    spare_containers_.pop_back();
  } else {
    id = ids::random_string();
    BERTH_TRY_VOID(make_container_dir(paths::container_dir(work_dir_, id)));
    spares_failing_ = false;
  }
  make_spare_container_dirs();
  return id;
}

void AgentProcess::make_spare_container_dirs() {
  while (!stopping_ && !spares_failing_ && spare_containers_.size() + spares_in_flight_ < kSpareContainerDirs) {
    ++spares_in_flight_;
    auto id = ids::random_string();
    checkpointer_.run([dir = paths::container_dir(work_dir_, id)] { return make_container_dir(dir); },
                      [this, id](Result<void> made) {
                        --spares_in_flight_;
                        if (made) {
                          spare_containers_.push_back(id);
                        } else if (!spares_failing_) {
                          // Launches make their directories themselves until one succeeds.
                          spares_failing_ = true;
                          log::warn("Could not make a spare container directory: {}", made.error().what());
                        }
                      });
  }
}

}  // namespace berth::agent
