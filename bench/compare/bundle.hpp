#pragma once
// The benchmark's OCI bundle: a busybox-static rootfs and a config.json like
// the one `runc spec` writes (pid, network, ipc, uts and mount namespaces;
// /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, read-only /sys and cgroup;
// masked and read-only paths; three capabilities; no_new_privs; a read-only
// root), running /bin/true. linux.resources is left out: limits are the
// isolators' business, and crun cannot load its device filter on a host that
// withholds CAP_SYS_RESOURCE.

#include <filesystem>
#include <string>

namespace berth::bench {

struct BundleOptions {
  bool network_namespace = true;
  std::string cgroups_path;  // linux.cgroupsPath, absolute
};

// Writes <dir>/rootfs and <dir>/config.json.
void write_bundle(const std::filesystem::path& dir, const BundleOptions& options);

}  // namespace berth::bench
