#pragma once
// The launchers the comparison runs side by side, each timed from the
// request to the task's exit being observed.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/launcher/launcher.hpp"
#include "berth/launcher/netns_pool.hpp"

namespace berth::bench {

class Runner {
 public:
  virtual ~Runner() = default;
  virtual const std::string& name() const = 0;
  // One launch of /bin/true; the latency in ns.
  virtual Result<std::uint64_t> launch_once(int iteration) = 0;
};

// Durations of the phases of one in-process launch, in ns, in launch order.
using Phases = std::vector<std::pair<std::string, std::uint64_t>>;

// LinuxLauncher in this process: a cgroup made under `cgroup_parent` and
// entered by clone3, the bundle's config (parsed once, as the agent holds
// configs it built), exit observed on the pidfd; then reaped and the cgroup
// removed (not timed). Records each launch's phases.
class LibraryRunner final : public Runner {
 public:
  // With a pool, the container joins a pooled network namespace instead of
  // creating one (a miss falls back to creating it).
  // With `overlay`, the bundle's rootfs is the single lower layer of an
  // overlay with a fresh upper directory per launch, as an image task's is.
  static Result<std::unique_ptr<LibraryRunner>> create(std::string name, const std::filesystem::path& bundle,
                                                       const std::filesystem::path& cgroup_parent,
                                                       const std::filesystem::path& scratch,
                                                       launcher::NetworkNamespacePool* pool = nullptr,
                                                       bool overlay = false);
  const std::string& name() const override { return name_; }
  Result<std::uint64_t> launch_once(int iteration) override;
  // The seccomp filter every launch loads (the agent's default profile).
  void set_seccomp(std::shared_ptr<const launcher::SeccompProgram> program) { seccomp_ = std::move(program); }
  // Leaves the capabilities and no_new_privs as the launcher has them
  // (everything, for root), to measure what dropping them costs.
  void keep_all_capabilities() {
    spec_.process.capabilities.reset();
    spec_.process.no_new_privileges = false;
  }
  const std::vector<Phases>& phases() const { return phases_; }
  void clear_records() {
    phases_.clear();
    init_exits_.clear();
    teardowns_.clear();
  }
  // After the exit notice, until init's exit (the container's namespaces torn down), ns.
  const std::vector<std::uint64_t>& init_exits() const { return init_exits_; }
  // Then reaping init and removing the cgroup, ns.
  const std::vector<std::uint64_t>& teardowns() const { return teardowns_; }

 private:
  LibraryRunner(std::string name, launcher::oci::Spec spec, std::filesystem::path cgroup_parent,
                std::filesystem::path scratch, launcher::StepClock clock, launcher::NetworkNamespacePool* pool);
  std::string name_;
  launcher::NetworkNamespacePool* pool_;
  bool overlay_ = false;
  launcher::oci::Spec spec_;
  std::shared_ptr<const launcher::SeccompProgram> seccomp_;
  std::filesystem::path cgroup_parent_;
  std::filesystem::path scratch_;
  launcher::StepClock clock_;
  launcher::LinuxLauncher launcher_;
  std::vector<Phases> phases_;
  std::vector<std::uint64_t> init_exits_;
  std::vector<std::uint64_t> teardowns_;
};

// A runtime's command line, `run` of the bundle under a fresh id each time:
// {"runc", "--root", dir, "run", "--bundle", bundle} + id.
class CommandRunner final : public Runner {
 public:
  CommandRunner(std::string name, std::vector<std::string> argv_before_id);
  const std::string& name() const override { return name_; }
  Result<std::uint64_t> launch_once(int iteration) override;

 private:
  std::string name_;
  std::vector<std::string> argv_;
};

}  // namespace berth::bench
