#include "safe_path.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace berth::fetcher {

namespace {

// Implicit parents get what containerd and Docker give them.
constexpr mode_t kImplicitDirMode = 0755;

// The kernel returns EAGAIN when a rename or mount elsewhere raced with a
// ".." lookup under RESOLVE_IN_ROOT, asking the caller to retry.
constexpr int kResolveAttempts = 16;

struct DirClose {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

int openat2_in_root(int root_fd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  // Magic links (/proc/self/fd/N and the like) point anywhere, whatever the
  // root; a layer has no business resolving through them.
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = -1;
  for (int attempt = 0; attempt < kResolveAttempts; ++attempt) {
    fd = static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

Result<UniqueFd> open_dir_in_root(int root_fd, const LayerPath& path) {
  return open_in_root(root_fd, path, O_RDONLY | O_DIRECTORY);
}

// mkdirat() of one name in a resolved directory: it never follows a symlink
// there (EEXIST instead), so the new directory is where it was asked for.
Result<void> make_implicit_dir(int parent_fd, const std::string& name) {
  if (::mkdirat(parent_fd, name.c_str(), kImplicitDirMode) != 0) {
    if (errno == EEXIST) return {};
    return fail_sys("mkdirat", name);
  }
  // mkdirat() applied the umask; the layer's tree should not depend on it.
  UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return fail_sys("openat", name);
  if (::fchmod(dir.get(), kImplicitDirMode) != 0) return fail_sys("fchmod", name);
  return {};
}

Result<std::vector<std::string>> list_dir(int dir_fd) {
  UniqueFd copy(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) return fail_sys("fcntl F_DUPFD_CLOEXEC");
  std::unique_ptr<DIR, DirClose> dir(::fdopendir(copy.get()));
  if (!dir) return fail_sys("fdopendir");
  copy.release();
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir.get())) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  if (errno != 0) return fail_sys("readdir");
  return names;
}

}  // namespace

Result<UniqueFd> open_in_root(int root_fd, const LayerPath& path, int flags) {
  std::string text = path.str();
  UniqueFd fd(openat2_in_root(root_fd, text, flags));
  if (!fd) return fail_sys(errno == ENOSYS ? "openat2 (needs Linux 5.6 or later)" : "openat2", text);
  return fd;
}

Result<UniqueFd> open_parent_dir(int root_fd, const LayerPath& path) {
  LayerPath parent = path.parent();
  if (auto fd = open_dir_in_root(root_fd, parent); fd || fd.error().code() != ENOENT) return fd;
  // Some ancestor is missing: walk down from the root, creating each one in
  // the directory resolved just before it.
  BERTH_TRY(UniqueFd dir, open_dir_in_root(root_fd, LayerPath{}));
  LayerPath walked;
  for (const auto& component : parent.components) {
    walked.components.push_back(component);
    auto next = open_dir_in_root(root_fd, walked);
    if (!next && next.error().code() == ENOENT) {
      BERTH_TRY_VOID(make_implicit_dir(dir.get(), component));
      next = open_dir_in_root(root_fd, walked);
    }
    if (!next) return next;
    dir = std::move(*next);
  }
  return dir;
}

Result<void> remove_entry(int dir_fd, const std::string& name) {
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR) return fail_sys("unlinkat", name);
  // O_NOFOLLOW: the name was a directory a moment ago, and if it has become
  // a symlink since, its target's content is not ours to delete.
  UniqueFd dir(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return fail_sys("openat", name);
  BERTH_TRY(auto children, with_context(list_dir(dir.get()), name));
  for (const auto& child : children) {
    BERTH_TRY_VOID(with_context(remove_entry(dir.get(), child), name));
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) return fail_sys("unlinkat AT_REMOVEDIR", name);
  return {};
}

}  // namespace berth::fetcher
