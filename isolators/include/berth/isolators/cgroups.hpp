#pragma once
// cgroup v2 core isolator: one cgroup per container, `<root>/<container id>`.
//
// The root is a flag of the agent (on real hosts a directory under
// /sys/fs/cgroup, on hybrid hosts a child of /sys/fs/cgroup/unified). It must
// be on cgroup2 and holds nothing but container cgroups: every subdirectory is
// taken to be one, which is what lets recover() find orphans.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/isolators/isolator.hpp"

namespace berth::isolators {

class CgroupsIsolator final : public Isolator {
 public:
  // Creates `root` if missing (only under an existing cgroup2 directory) and
  // enables in its cgroup.subtree_control the controllers Berth configures
  // that the kernel offers there.
  static Result<std::unique_ptr<CgroupsIsolator>> create(std::filesystem::path root);

  std::string_view name() const override { return "cgroups"; }

  // Destroys (kill + rmdir) every container cgroup under root not in the list.
  Result<void> recover(const std::vector<std::string>& known_container_ids) override;
  // Creates the container's cgroup and writes its limits for the enabled controllers.
  Result<LaunchInfo> prepare(const ContainerConfig& config) override;
  Result<Usage> usage(const std::string& container_id) override;
  // Kills everything in the container's cgroup, waits (bounded) until it is
  // empty and removes it. Fine for a container without a cgroup.
  Result<void> cleanup(const std::string& container_id) override;

  std::filesystem::path cgroup_path(const std::string& container_id) const;
  // Ids of the containers that have a cgroup, sorted.
  Result<std::vector<std::string>> list() const;
  // O_DIRECTORY|O_CLOEXEC fd of the container's cgroup, for clone3 CLONE_INTO_CGROUP.
  Result<UniqueFd> open(const std::string& container_id) const;
  // The controllers listed in root's cgroup.controllers.
  const std::vector<std::string>& controllers() const { return controllers_; }
  const std::filesystem::path& root() const { return root_; }

 private:
  CgroupsIsolator(std::filesystem::path root, std::vector<std::string> controllers)
      : root_(std::move(root)), controllers_(std::move(controllers)) {}

  Result<void> apply_controllers(const ContainerConfig& config, const std::filesystem::path& cgroup) const;

  std::filesystem::path root_;
  std::vector<std::string> controllers_;
};

// A container id names a directory: non-empty, at most NAME_MAX bytes, no '/'
// or NUL, not "." or "..".
Result<void> check_container_id(const std::string& container_id);

}  // namespace berth::isolators
