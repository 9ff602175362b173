#include "local_files.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "berth/common/fd.hpp"

namespace berth::fetcher {

namespace fs = std::filesystem;

Result<std::string> LocalFiles::read_all(std::string_view name, std::uint64_t limit) {
  std::string content;
  BERTH_TRY_VOID(read(name, limit, [&](std::string_view chunk) -> Result<void> {
    content.append(chunk);
    return {};
  }));
  return content;
}

Result<std::string> LocalFiles::read_prefix(std::string_view name, std::size_t count) {
  // Stops the read once enough has arrived: a sentinel error, told apart by its code.
  constexpr int kEnough = -1;
  std::string content;
  auto read_some = read(name, UINT64_MAX, [&](std::string_view chunk) -> Result<void> {
    content.append(chunk.substr(0, count - content.size()));
    if (content.size() == count) return fail(Error("enough", kEnough));
    return {};
  });
  if (!read_some && read_some.error().code() != kEnough) return fail(std::move(read_some).error());
  return content;
}

namespace {

// "a/./b//c" -> "a/b/c"; ".." or an absolute name is refused: nothing an
// image names may lie outside it.
Result<std::string> normal_name(std::string_view name) {
  std::vector<std::string_view> parts;
  if (name.starts_with('/')) return fail(fmt::format("'{}' is an absolute path", name));
  for (std::size_t start = 0; start <= name.size();) {
    auto end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    auto part = name.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return fail(fmt::format("'{}' leads outside the image", name));
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  if (parts.empty()) return fail(fmt::format("'{}' names no file", name));
  std::string out;
  for (auto part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

Result<void> check_limit(std::uint64_t total, std::uint64_t limit, std::string_view name) {
  if (total > limit) return fail(fmt::format("{} is larger than the {} bytes accepted", name, limit));
  return {};
}

class DirectoryFiles final : public LocalFiles {
 public:
  DirectoryFiles(UniqueFd dir, std::string where) : dir_(std::move(dir)), where_(std::move(where)) {}
  const std::string& where() const override { return where_; }

  Result<void> read(std::string_view name, std::uint64_t limit, const Sink& sink) override {
    BERTH_TRY(auto path, normal_name(name));
    BERTH_TRY(auto fd, open(path));
    std::vector<char> buffer(std::size_t{1} << 20);
    std::uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_sys("read", where_ + "/" + path);
      if (n == 0) return {};
      total += static_cast<std::uint64_t>(n);
      BERTH_TRY_VOID(check_limit(total, limit, where_ + "/" + path));
      BERTH_TRY_VOID(sink(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
    }
  }

  Result<std::uint64_t> size(std::string_view name) override {
    BERTH_TRY(auto path, normal_name(name));
    BERTH_TRY(auto fd, open(path));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_sys("stat", where_ + "/" + path);
    return static_cast<std::uint64_t>(st.st_size);
  }

 private:
  // The layout is the user's, but its blobs are plain files: no symlink is
  // followed, so none can point the read at another file of the host.
  Result<UniqueFd> open(const std::string& path) const {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dir_.get(), path.c_str(), &how, sizeof how)));
    if (!fd) return fail_sys("open", where_ + "/" + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_sys("stat", where_ + "/" + path);
    if (!S_ISREG(st.st_mode)) return fail(fmt::format("{}/{} is not a regular file", where_, path));
    return fd;
  }

  UniqueFd dir_;
  std::string where_;
};

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

class ArchiveFiles final : public LocalFiles {
 public:
  explicit ArchiveFiles(std::string path) : path_(std::move(path)) {}
  const std::string& where() const override { return path_; }

  Result<void> read(std::string_view name, std::uint64_t limit, const Sink& sink) override {
    BERTH_TRY(auto found, find_file(name));
    return stream(found.archive.get(), found.name, limit, sink);
  }

  Result<std::uint64_t> size(std::string_view name) override {
    BERTH_TRY(auto found, find_file(name));
    return found.size;
  }

 private:
  struct Found {
    ArchivePtr archive;  // positioned at the file's data
    std::string name;    // after links
    std::uint64_t size = 0;
  };
  struct Entry {
    std::string link;  // empty for a regular file
    bool hardlink = false;  // a tar hardlink names its target from the archive's root
    std::uint64_t size = 0;
  };

  // docker save writes a layer shared by two images once and links the
  // other name to it.
  Result<Found> find_file(std::string_view name) const {
    BERTH_TRY(auto wanted, normal_name(name));
    for (int hops = 0; hops < 8; ++hops) {
      BERTH_TRY(auto archive, open());
      BERTH_TRY(auto entry, find(archive.get(), wanted));
      if (entry.link.empty()) return Found{std::move(archive), std::move(wanted), entry.size};
      auto slash = wanted.rfind('/');
      auto base = slash == std::string::npos || entry.hardlink ? std::string() : wanted.substr(0, slash + 1);
      BERTH_TRY(wanted, with_context(normal_name(base + entry.link), fmt::format("{}: link {}", path_, wanted)));
    }
    return fail(fmt::format("{}: {}: too many links", path_, name));
  }

  Result<ArchivePtr> open() const {
    ArchivePtr a(archive_read_new());
    if (!a) return fail("archive_read_new failed");
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    if (archive_read_open_filename(a.get(), path_.c_str(), std::size_t{1} << 16) != ARCHIVE_OK) {
      return fail(fmt::format("{}: {}", path_, archive_error_string(a.get())));
    }
    return a;
  }

  // Moves to the entry `wanted`: a regular file's size, or a symlink's or
  // hardlink's target.
  Result<Entry> find(archive* a, const std::string& wanted) const {
    archive_entry* entry = nullptr;
    for (;;) {
      int rc = archive_read_next_header(a, &entry);
      if (rc == ARCHIVE_EOF) return fail(Error::sys("find", ENOENT, path_ + ": " + wanted));
      if (rc < ARCHIVE_WARN) return fail(fmt::format("{}: {}", path_, archive_error_string(a)));
      const char* entry_name = archive_entry_pathname(entry);
      auto normal = entry_name ? normal_name(entry_name) : Result<std::string>(fail("no name"));
      if (!normal || *normal != wanted) continue;
      if (const char* hardlink = archive_entry_hardlink(entry)) return Entry{hardlink, true};
      if (archive_entry_filetype(entry) == AE_IFLNK) {
        const char* target = archive_entry_symlink(entry);
        if (target == nullptr || *target == '\0') return fail(fmt::format("{}: {} is an empty link", path_, wanted));
        return Entry{target};
      }
      if (archive_entry_filetype(entry) != AE_IFREG) {
        return fail(fmt::format("{}: {} is not a regular file", path_, wanted));
      }
      return Entry{{}, false, static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(entry), 0))};
    }
  }

  Result<void> stream(archive* a, const std::string& name, std::uint64_t limit, const Sink& sink) const {
    std::vector<char> buffer(std::size_t{1} << 20);
    std::uint64_t total = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(a, buffer.data(), buffer.size());
      if (n < 0) return fail(fmt::format("{}: {}: {}", path_, name, archive_error_string(a)));
      if (n == 0) return {};
      total += static_cast<std::uint64_t>(n);
      BERTH_TRY_VOID(check_limit(total, limit, path_ + ": " + name));
      BERTH_TRY_VOID(sink(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
    }
  }

  std::string path_;
};

}  // namespace

Result<std::unique_ptr<LocalFiles>> directory_files(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_sys("open", dir.string());
  return std::unique_ptr<LocalFiles>(new DirectoryFiles(std::move(fd), dir.string()));
}

Result<std::unique_ptr<LocalFiles>> archive_files(const fs::path& archive) {
  std::error_code ec;
  auto status = fs::status(archive, ec);
  if (ec) return fail(Error::sys("stat", ec.value(), archive.string()));
  if (!fs::is_regular_file(status)) return fail(archive.string() + " is not a regular file");
  return std::unique_ptr<LocalFiles>(new ArchiveFiles(archive.string()));
}

}  // namespace berth::fetcher
