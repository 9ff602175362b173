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
  static Result<std::unique_ptr<LibraryRunner>> create(const std::filesystem::path& bundle,
                                                       const std::filesystem::path& cgroup_parent,
                                                       const std::filesystem::path& scratch);
  const std::string& name() const override { return name_; }
  Result<std::uint64_t> launch_once(int iteration) override;
  const std::vector<Phases>& phases() const { return phases_; }
  // Teardown (reap, rmdir of the cgroup) of each launch, ns.
  const std::vector<std::uint64_t>& teardowns() const { return teardowns_; }

 private:
  LibraryRunner(launcher::oci::Spec spec, std::filesystem::path cgroup_parent, std::filesystem::path scratch,
                launcher::StepClock clock);
  std::string name_ = "berth (library)";
  launcher::oci::Spec spec_;
  std::filesystem::path cgroup_parent_;
  std::filesystem::path scratch_;
  launcher::StepClock clock_;
  launcher::LinuxLauncher launcher_;
  std::vector<Phases> phases_;
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
