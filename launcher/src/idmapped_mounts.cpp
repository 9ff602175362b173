// User namespaces that hold no process, and idmapped copies of directory
// trees shown through them (the layers of an image task in a user namespace).

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mount.h>

#include <array>
#include <string>

#include "berth/launcher/launcher.hpp"
#include "raw_syscall.hpp"

namespace berth::launcher {
namespace {

Result<void> write_file(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return fail_sys("write", path);
  return {};
}

// The child only waits for its parent to let it go: it shares the parent's
// memory (CLONE_VM), not its descriptors, so it first closes its own copy of
// the pipe's write end, then reads until the parent closes the other. It
// shares the parent's thread pointer too, so it makes raw calls only, which
// leave the parent's errno alone.
int wait_to_exit(void* pipe_fds) {
  const int* fds = static_cast<const int*>(pipe_fds);
  raw::sys(__NR_close, fds[1]);
  char byte;
  while (raw::sys(__NR_read, fds[0], reinterpret_cast<long>(&byte), 1) == -EINTR) {
  }
  return 0;
}

}  // namespace

Result<UniqueFd> make_user_namespace(std::uint32_t base, std::uint32_t size) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_sys("pipe2");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  alignas(16) static thread_local std::array<char, 16384> stack;
  int child_fds[2] = {read_end.get(), write_end.get()};
  pid_t pid = ::clone(wait_to_exit, stack.data() + stack.size(), CLONE_NEWUSER | CLONE_VM | SIGCHLD, child_fds);
  if (pid < 0) return fail_sys("clone(CLONE_NEWUSER)");
  auto proc = "/proc/" + std::to_string(pid) + "/";
  auto mapped = [&]() -> Result<UniqueFd> {
    auto map = "0 " + std::to_string(base) + " " + std::to_string(size) + "\n";
    BERTH_TRY_VOID(write_file(proc + "uid_map", map));
    BERTH_TRY_VOID(write_file(proc + "setgroups", "deny"));
    BERTH_TRY_VOID(write_file(proc + "gid_map", map));
    UniqueFd ns(::open((proc + "ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return fail_sys("open", proc + "ns/user");
    return ns;
  }();
  write_end.reset();  // the child reads end of file and exits
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return mapped;
}

Result<UniqueFd> idmapped_tree(const std::filesystem::path& path, int userns_fd) {
  UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!tree) return fail_sys("open_tree", path.string());
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<std::uint64_t>(userns_fd);
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return fail_sys("mount_setattr(MOUNT_ATTR_IDMAP)", path.string());
  }
  return tree;
}

}  // namespace berth::launcher
