#pragma once
// The devices a container may use, enforced by an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to its cgroup (cgroup v2 has no
// devices controller file): deny by default, then a rule list, first match
// wins, as runc and crun do.

#include <linux/bpf.h>

#include <span>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/isolators/cgroups2/limits.hpp"

namespace berth::isolators::cgroups2 {

// The devices every container gets (the OCI runtime spec's defaults): null,
// zero, full, random, urandom, tty, console, ptmx and the pts devices, read
// and write (and mknod of them).
std::vector<DeviceRule> default_device_rules();

// The filter program for `rules` (first match wins, anything else denied).
// Pure: no system call. Errors name the rule at fault (bad type, access).
Result<std::vector<bpf_insn>> compile_device_filter(std::span<const DeviceRule> rules);

// A loaded filter program. Move-only; closing it does not detach it.
class DeviceFilter {
 public:
  static Result<DeviceFilter> load(std::span<const bpf_insn> program);
  // Attaches to the cgroup (an O_DIRECTORY fd) with BPF_F_ALLOW_MULTI, as
  // runc and crun do: a runtime nested in the container may add filters of
  // its own below, which can only narrow this one. Replaces the program the
  // cgroup already has, if any (BPF_F_REPLACE), so a live update can widen
  // access as well as narrow it.
  Result<void> attach(int cgroup_fd) const;
  int fd() const { return fd_.get(); }

 private:
  explicit DeviceFilter(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace berth::isolators::cgroups2
