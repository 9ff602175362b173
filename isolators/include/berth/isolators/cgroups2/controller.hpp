#pragma once
// One cgroup v2 controller (after youki's libcgroups/v2 `Controller`): how a
// container's Limits become writes to its interface files, and which stat
// files its part of Statistics comes from. Every function takes the cgroup
// directory and never assumes /sys/fs/cgroup, so each controller is
// unit-tested against a temp directory of fixture files.

#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/cgroup_batch.hpp"
#include "berth/isolators/cgroups2/limits.hpp"
#include "berth/isolators/cgroups2/statistics.hpp"

namespace berth::isolators::cgroups2 {

// What a write plan does about a limit the Limits leave empty.
enum class Unset {
  keep,     // a new cgroup: the kernel's default is there already; write nothing
  restore,  // a live update: write the kernel's default back, undoing an earlier limit
};

// Where a stat file exists.
enum class StatScope {
  core,        // in every non-root cgroup, controller or not (cpu.stat, *.pressure)
  controller,  // only where the controller is enabled
};
// Whether a missing file is an error.
enum class StatPresence {
  required,
  optional,  // absent on some kernels: memory.peak before 5.19, *.pressure with psi=0
};
enum class StatKind { counters, pressure };

// Fills the fields of `out` this file owns (and clears them first, so a
// Statistics can be reused from sample to sample). Errors carry no path: the
// caller, who knows the file, adds it.
using StatParser = Result<void> (*)(std::string_view text, Statistics& out);

struct StatFile {
  std::string_view name;  // e.g. "cpu.stat"
  StatScope scope;
  StatPresence presence;
  StatKind kind;
  StatParser parse;
  std::size_t typical_size;  // bytes: a read buffer this big almost always holds it
};

class Controller {
 public:
  virtual ~Controller() = default;
  // As spelled in cgroup.controllers; "devices" for the eBPF device filter.
  virtual std::string_view name() const = 0;
  // Enforces `limits` in a new cgroup: writes what they set and leaves the
  // rest at the kernel's default. Errors name the Limits field at fault, or
  // the file and the value written.
  virtual Result<void> apply(const Limits& limits, const std::filesystem::path& cgroup) const = 0;
  // Enforces `limits` in a live cgroup: like apply, and also puts back the
  // kernel's default for what they leave unset.
  virtual Result<void> update(const Limits& limits, const std::filesystem::path& cgroup) const = 0;
  // The files its part of Statistics comes from.
  virtual std::span<const StatFile> stat_files() const { return {}; }
};

// Base of the controllers enforced by writing interface files.
class FileController : public Controller {
 public:
  // The writes that enforce `limits`, in order; validates them first (errors
  // name the Limits field). `cgroup` is only read, and only for Unset::restore
  // (to find per-device or per-size entries set earlier).
  virtual Result<std::vector<CgroupFileWrite>> plan(const Limits& limits, Unset unset,
                                                    const std::filesystem::path& cgroup) const = 0;
  Result<void> apply(const Limits& limits, const std::filesystem::path& cgroup) const final;
  Result<void> update(const Limits& limits, const std::filesystem::path& cgroup) const final;
};

// Which of a controller's stat files to read.
enum class StatSelection {
  core_only,  // the controller is not enabled: its core files only
  all,
};

// Reads the selected stat files of `controller` in `cgroup` into `out`.
// Errors name the file.
Result<void> read_statistics(const Controller& controller, const std::filesystem::path& cgroup,
                             StatSelection selection, Statistics& out);

// Whether `file` is read under `selection`.
bool selected(const StatFile& file, StatSelection selection);

}  // namespace berth::isolators::cgroups2
