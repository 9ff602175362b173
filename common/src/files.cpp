#include "berth/common/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "berth/common/fd.hpp"

namespace berth::files {

Result<std::string> read(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open", path);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_sys("read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Result<void> write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_sys("write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> write_atomic(const std::filesystem::path& path, std::string_view data) {
  // A name of its own per writer: two threads or processes writing the same
  // file must not share (and truncate) one temporary; the last rename wins.
  static std::atomic<unsigned> counter{0};
  auto tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd) return fail_sys("open", tmp);
  auto written = [&]() -> Result<void> {
    BERTH_TRY_VOID(write_all(fd.get(), data, tmp));
    if (::fsync(fd.get()) != 0) return fail_sys("fsync", tmp);
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_sys("rename", path);
    return {};
  }();
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  return fsync_dir(path.parent_path());
}

Result<void> fsync_dir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_sys("open", dir);
  if (::fsync(fd.get()) != 0) return fail_sys("fsync", dir);
  return {};
}

Result<void> make_dirs(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return fail(Error::sys("mkdir", ec.value(), path));
  return {};
}

Result<void> remove_all(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return fail(Error::sys("remove", ec.value(), path));
  return {};
}

}  // namespace berth::files
