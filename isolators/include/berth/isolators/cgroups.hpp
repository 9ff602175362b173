#pragma once
// cgroup v2 isolator: one cgroup per container, `<root>/<container id>`, its
// limits enforced by the controllers of cgroups2/controllers.hpp.
//
// The root is a flag of the agent (on real hosts a directory under
// /sys/fs/cgroup, on hybrid hosts a child of /sys/fs/cgroup/unified). It must
// be on cgroup2 and holds nothing but container cgroups: every subdirectory is
// taken to be one, which is what lets recover() find orphans.
//
// Controllers are detected, never assumed: a required controller the root
// does not offer fails create() unless `allow_missing`, and then shows in
// missing_controllers().

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/isolators/cgroups2/controllers.hpp"
#include "berth/isolators/cgroups2/statistics.hpp"
#include "berth/isolators/isolator.hpp"

namespace berth::isolators {

struct CgroupsOptions {
  std::filesystem::path root = {};
  // Kernel controller names (cpu, memory, pids, io, cpuset, hugetlb) and
  // "devices" for the eBPF device filter: the ones to use, and that must be
  // there.
  std::vector<std::string> required = {};
  // Run without the required controllers that are not there (the agent's
  // --allow_missing_cgroup_controllers).
  bool allow_missing = false;
};

// Why the kernel ended (or held back) a container: a limit it hit.
struct Limitation {
  enum class Kind { memory, pids } kind;
  std::string message;
};

class CgroupsIsolator final : public Isolator {
 public:
  // Creates `root` if missing (only under an existing cgroup2 directory,
  // enabling the controllers down the new directories), detects what it
  // offers, and enables the ones used in its cgroup.subtree_control.
  static Result<std::unique_ptr<CgroupsIsolator>> create(const CgroupsOptions& options);
  // Requires nothing and uses every kernel controller the root offers, no
  // device filter (the agent's behaviour before --isolation).
  static Result<std::unique_ptr<CgroupsIsolator>> create(std::filesystem::path root);

  std::string_view name() const override { return "cgroups"; }

  // Destroys (kill + rmdir) every container cgroup under root not in the list.
  Result<void> recover(const std::vector<std::string>& known_container_ids) override;
  // Creates the container's cgroup and applies every enabled controller's
  // limits (and the device filter). On failure nothing remains.
  Result<LaunchInfo> prepare(const ContainerConfig& config) override;
  Result<Usage> usage(const std::string& container_id) override;
  // Kills everything in the container's cgroup (cgroup.kill), waits (bounded)
  // until it is empty and removes it. Fine for a container without a cgroup.
  Result<void> cleanup(const std::string& container_id) override;

  // Enforces new limits on a running container, putting back the kernel's
  // defaults for what `limits` leave unset. Controller by controller: a
  // failure leaves the controllers before it updated.
  Result<void> update(const std::string& container_id, const cgroups2::Limits& limits);
  // The container's usage: the core files (cpu.stat, *.pressure) always, the
  // enabled controllers' own files too. Errors name the file.
  Result<cgroups2::Statistics> statistics(const std::string& container_id) const;
  // The limit the container hit, if any: an OOM kill (memory.events
  // oom_kill > 0) or refused forks (pids.events max > 0). For the agent when
  // a container ends, before cleanup.
  Result<std::optional<Limitation>> limitation(const std::string& container_id) const;

  std::filesystem::path cgroup_path(const std::string& container_id) const;
  // Ids of the containers that have a cgroup, sorted.
  Result<std::vector<std::string>> list() const;
  // O_DIRECTORY|O_CLOEXEC fd of the container's cgroup, for clone3 CLONE_INTO_CGROUP.
  Result<UniqueFd> open(const std::string& container_id) const;

  // Required and there, in the order they are applied.
  const std::vector<std::string>& enabled_controllers() const { return detection_.enabled; }
  // Required and not there (only with allow_missing).
  const std::vector<std::string>& missing_controllers() const { return detection_.missing; }
  // What the root offers (cgroup.controllers), and "devices" where the filter loads.
  const std::vector<std::string>& available_controllers() const { return detection_.available; }
  // The agent's /state lists these: enabled_controllers().
  const std::vector<std::string>& controllers() const { return enabled_controllers(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  CgroupsIsolator(std::filesystem::path root, cgroups2::Detection detection);
  // Detection and controller set-up of an existing root.
  static Result<std::unique_ptr<CgroupsIsolator>> set_up(const CgroupsOptions& options,
                                                         const std::filesystem::path& root);

  Result<void> apply_controllers(const cgroups2::Limits& limits, const std::filesystem::path& cgroup) const;
  bool enabled(std::string_view controller) const;

  std::filesystem::path root_;
  cgroups2::Detection detection_;
};

// The limit the cgroup at `cgroup` hit, where the `enabled` controllers are
// on: what CgroupsIsolator::limitation reports. An OOM kill comes first: it
// is what ended the container.
Result<std::optional<Limitation>> read_limitation(const std::filesystem::path& cgroup,
                                                  const std::vector<std::string>& enabled);

// A container id names a directory: non-empty, at most NAME_MAX bytes, no '/'
// or NUL, not "." or "..".
Result<void> check_container_id(const std::string& container_id);

}  // namespace berth::isolators
