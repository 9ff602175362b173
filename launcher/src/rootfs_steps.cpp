// The container's filesystem, set up by init in its new mount namespace:
// propagation, the rootfs and its mounts, /dev, pivot_root, then what the
// spec hides or makes read-only. Before pivot_root every path is the host's
// (rootfs + destination); after it, the container's.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "berth/launcher/child_steps.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {

namespace {

bool has_mount_namespace(const ChildPlan& plan) { return plan.has_namespace(CLONE_NEWNS); }

const char* or_null(const std::string& text) { return text.empty() ? nullptr : text.c_str(); }

int make_dirs(const std::vector<std::string>& dirs) {
  for (const auto& dir : dirs) {
    if (syscall(SYS_mkdirat, AT_FDCWD, dir.c_str(), 0755) < 0 && errno != EEXIST) return errno;
  }
  return 0;
}

// mknod(S_IFREG) makes an empty file without opening it (opening a fifo would block).
int make_file(const char* path) {
  if (syscall(SYS_mknodat, AT_FDCWD, path, S_IFREG | 0644, 0) < 0 && errno != EEXIST) return errno;
  return 0;
}

int set_mount_attributes(const char* path, std::uint64_t set, std::uint64_t clear, bool recursive) {
  mount_attr attr{};
  attr.attr_set = set;
  attr.attr_clr = clear;
  return raw::errno_of(syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr));
}

int perform_mount(const PreparedMount& m) {
  if (int error = make_dirs(m.dirs)) return error;
  if (m.file_target) {
    if (int error = make_file(m.target.c_str())) return error;
  }
  const auto& o = m.options;
  if (syscall(SYS_mount, or_null(m.source), m.target.c_str(), or_null(m.type), o.flags, or_null(o.data)) < 0) {
    return errno;
  }
  // A bind mount takes none of its flags at mount time; mount_setattr keeps
  // the flags a user namespace locks (nosuid, nodev of the source), where a
  // MS_REMOUNT would have to repeat them.
  if (o.bind && (o.attr_set || o.attr_clr)) {
    if (int error = set_mount_attributes(m.target.c_str(), o.attr_set, o.attr_clr, o.recursive)) return error;
  }
  if (o.propagation) return raw::errno_of(syscall(SYS_mount, nullptr, m.target.c_str(), nullptr, o.propagation, nullptr));
  return 0;
}

int make_device(const ChildPlan& plan, const PreparedDevice& d) {
  if (int error = make_dirs(d.dirs)) return error;
  // mknod is refused in a user namespace: bind the host's node instead.
  if (plan.has_namespace(CLONE_NEWUSER)) {
    if (int error = make_file(d.target.c_str())) return error;
    return raw::errno_of(syscall(SYS_mount, d.path.c_str(), d.target.c_str(), nullptr, MS_BIND, nullptr));
  }
  if (syscall(SYS_mknodat, AT_FDCWD, d.target.c_str(), d.mode, d.rdev) < 0) return errno;
  // mknod applied init's umask.
  if (syscall(SYS_fchmodat, AT_FDCWD, d.target.c_str(), d.mode & 07777) < 0) return errno;
  if (!d.uid && !d.gid) return 0;
  auto uid = d.uid ? static_cast<long>(*d.uid) : -1L;
  auto gid = d.gid ? static_cast<long>(*d.gid) : -1L;
  return raw::errno_of(syscall(SYS_fchownat, AT_FDCWD, d.target.c_str(), uid, gid, 0));
}

}  // namespace

namespace steps {

// Mounts made in the container must not propagate to the host (nor the
// host's into the container). A shared rootfs gets its propagation only once
// it is bound, so the host's own mounts are never its peers.
int make_mounts_private(const ChildPlan& plan, ChildState&) {
  if (!has_mount_namespace(plan)) return 0;
  auto flags = plan.root_propagation();
  if (flags & MS_SHARED) flags = (flags & ~MS_SHARED) | MS_SLAVE;
  return raw::errno_of(syscall(SYS_mount, nullptr, "/", nullptr, flags, nullptr));
}

// Before anything else can close them: each idmapped layer tree onto its
// directory. The namespace's mounts become private first, so that these do
// not propagate to the host's (make_mounts_private later sets what the spec
// asks for).
int attach_layers(const ChildPlan& plan, ChildState& state) {
  const auto& fds = plan.attach_fds();
  if (fds.empty()) return 0;
  if (syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return errno;
  for (std::uint32_t i = 0; i < fds.size(); ++i) {
    state.failed_index = i;
    if (syscall(SYS_move_mount, fds[i], "", AT_FDCWD, plan.attach_targets()[i].c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      return errno;
    }
    syscall(SYS_close, fds[i]);
  }
  return 0;
}

// pivot_root needs the new root to be a mount point: the rootfs bound onto
// itself, or the image's overlay mounted there. The overlay's layers are
// named relative to the layers directory, which overlayfs resolves against
// the working directory of the mounting process.
int bind_rootfs(const ChildPlan& plan, ChildState&) {
  if (!plan.has_rootfs()) return 0;
  if (plan.has_overlay()) {
    if (syscall(SYS_chdir, plan.overlay_layers_dir()) < 0) return errno;
    if (syscall(SYS_mount, "overlay", plan.rootfs(), "overlay", 0, plan.overlay_options()) < 0) return errno;
  } else if (syscall(SYS_mount, plan.rootfs(), plan.rootfs(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
    return errno;
  }
  if (!(plan.root_propagation() & MS_SHARED)) return 0;
  return raw::errno_of(syscall(SYS_mount, nullptr, plan.rootfs(), nullptr, plan.root_propagation(), nullptr));
}

int mount_dev(const ChildPlan& plan, ChildState&) {
  return plan.dev_mount() ? perform_mount(*plan.dev_mount()) : 0;
}

int mount_spec_mounts(const ChildPlan& plan, ChildState& state) {
  for (std::uint32_t i = 0; i < plan.mounts().size(); ++i) {
    state.failed_index = i;
    if (int error = perform_mount(plan.mounts()[i])) return error;
  }
  return 0;
}

int create_devices(const ChildPlan& plan, ChildState& state) {
  for (std::uint32_t i = 0; i < plan.devices().size(); ++i) {
    state.failed_index = i;
    if (int error = make_device(plan, plan.devices()[i])) return error;
  }
  return 0;
}

int link_dev_symlinks(const ChildPlan& plan, ChildState& state) {
  for (std::uint32_t i = 0; i < plan.dev_symlinks().size(); ++i) {
    state.failed_index = i;
    const auto& s = plan.dev_symlinks()[i];
    if (syscall(SYS_symlinkat, s.target.c_str(), AT_FDCWD, s.link.c_str()) < 0 && errno != EEXIST) return errno;
  }
  return 0;
}

int mount_dev_shm(const ChildPlan& plan, ChildState&) {
  return plan.shm_mount() ? perform_mount(*plan.shm_mount()) : 0;
}

// pivot_root(".", ".") stacks the old root on top of the new one; detaching
// it leaves the new root alone, with no directory needed to park the old one.
int pivot_root(const ChildPlan& plan, ChildState&) {
  if (!plan.has_rootfs()) return 0;
  if (syscall(SYS_chdir, plan.rootfs()) < 0) return errno;
  if (syscall(SYS_pivot_root, ".", ".") < 0) return errno;
  // Slave first, so the detach cannot propagate to a peer of the old root.
  if (syscall(SYS_mount, nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) return errno;
  if (syscall(SYS_umount2, ".", MNT_DETACH) < 0) return errno;
  return raw::errno_of(syscall(SYS_chdir, "/"));
}

int readonly_root(const ChildPlan& plan, ChildState&) {
  if (!plan.spec().root.readonly) return 0;
  return set_mount_attributes("/", MOUNT_ATTR_RDONLY, 0, false);
}

int write_sysctls(const ChildPlan& plan, ChildState& state) {
  for (std::uint32_t i = 0; i < plan.sysctls().size(); ++i) {
    state.failed_index = i;
    const auto& s = plan.sysctls()[i];
    long fd = syscall(SYS_openat, AT_FDCWD, s.path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return errno;
    long written = syscall(SYS_write, fd, s.value.data(), s.value.size());
    int error = written < 0 ? errno : 0;
    syscall(SYS_close, fd);
    if (error) return error;
  }
  return 0;
}

// A path that does not exist needs no protection (runc skips it too).
int readonly_paths(const ChildPlan& plan, ChildState& state) {
  const auto& paths = plan.spec().linux_config.readonly_paths;
  for (std::uint32_t i = 0; i < paths.size(); ++i) {
    state.failed_index = i;
    const char* path = paths[i].c_str();
    if (syscall(SYS_mount, path, path, nullptr, MS_BIND | MS_REC, nullptr) < 0) {
      if (errno == ENOENT) continue;
      return errno;
    }
    if (int error = set_mount_attributes(path, MOUNT_ATTR_RDONLY, 0, true)) return error;
  }
  return 0;
}

// Files get /dev/null bound over them, directories an empty read-only tmpfs.
int mask_paths(const ChildPlan& plan, ChildState& state) {
  const auto& paths = plan.spec().linux_config.masked_paths;
  for (std::uint32_t i = 0; i < paths.size(); ++i) {
    state.failed_index = i;
    const char* path = paths[i].c_str();
    struct stat st {};
    if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) < 0) {
      if (errno == ENOENT) continue;
      return errno;
    }
    long result = S_ISDIR(st.st_mode)
                      ? syscall(SYS_mount, "tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr)
                      : syscall(SYS_mount, "/dev/null", path, nullptr, MS_BIND, nullptr);
    if (result < 0) return errno;
  }
  return 0;
}

int set_hostname(const ChildPlan& plan, ChildState&) {
  if (!plan.has_namespace(CLONE_NEWUTS) || plan.hostname().empty()) return 0;
  return raw::errno_of(syscall(SYS_sethostname, plan.hostname().data(), plan.hostname().size()));
}

int set_domainname(const ChildPlan& plan, ChildState&) {
  if (!plan.has_namespace(CLONE_NEWUTS) || plan.domainname().empty()) return 0;
  return raw::errno_of(syscall(SYS_setdomainname, plan.domainname().data(), plan.domainname().size()));
}

int change_dir(const ChildPlan& plan, ChildState&) { return raw::errno_of(syscall(SYS_chdir, plan.working_dir())); }

}  // namespace steps

}  // namespace berth::launcher
