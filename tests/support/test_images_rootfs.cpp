// Expected root filesystems: building them, staging them on disk for umoci and
// tar, and comparing an unpacked rootfs with them.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

#include "support/process.hpp"
#include "support/registry_shell.hpp"
#include "support/test_images.hpp"

namespace berth::testing {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kInlineContentLimit = 4096;

std::string octal(std::uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof text, "0%o", mode);
  return text;
}

const char* type_name(ExpectedFile::Type type) {
  switch (type) {
    case ExpectedFile::Type::regular: return "regular file";
    case ExpectedFile::Type::directory: return "directory";
    case ExpectedFile::Type::symlink: return "symlink";
  }
  return "?";
}

std::vector<std::string> compare_file(const fs::path& on_disk, const ExpectedFile& want) {
  std::vector<std::string> problems;
  auto problem = [&](const std::string& what) { problems.push_back(want.path + ": " + what); };
  struct stat st {};
  if (::lstat(on_disk.c_str(), &st) != 0) {
    problem(std::string("missing (") + std::strerror(errno) + ")");
    return problems;
  }
  auto type = S_ISDIR(st.st_mode) ? ExpectedFile::Type::directory
              : S_ISLNK(st.st_mode) ? ExpectedFile::Type::symlink
              : S_ISREG(st.st_mode) ? ExpectedFile::Type::regular
                                    : std::optional<ExpectedFile::Type>{};
  if (type != want.type) {
    problem(std::string("is not a ") + type_name(want.type));
    return problems;
  }
  if (st.st_uid != want.uid || st.st_gid != want.gid) {
    problem("owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + ", want " +
            std::to_string(want.uid) + ":" + std::to_string(want.gid));
  }
  if (want.type == ExpectedFile::Type::symlink) {
    std::error_code ec;
    auto target = fs::read_symlink(on_disk, ec).string();
    if (target != want.link_target) problem("points to '" + target + "', want '" + want.link_target + "'");
    return problems;
  }
  if ((st.st_mode & 07777) != want.mode) problem("mode " + octal(st.st_mode & 07777) + ", want " + octal(want.mode));
  if (want.type != ExpectedFile::Type::regular) return problems;
  if (static_cast<std::uint64_t>(st.st_size) != want.size) {
    problem("size " + std::to_string(st.st_size) + ", want " + std::to_string(want.size));
  } else if (want.size <= kInlineContentLimit) {
    if (read_file(on_disk) != want.content) problem("content differs");
  } else if (sha256_of_file(on_disk) != want.sha256) {
    problem("content digest differs");
  }
  return problems;
}

}  // namespace

ExpectedFile expected_regular(std::string path, std::string content, std::uint32_t mode) {
  ExpectedFile file{.path = std::move(path), .type = ExpectedFile::Type::regular, .mode = mode};
  file.size = content.size();
  file.sha256 = sha256_of(content);
  file.content = std::move(content);
  return file;
}

ExpectedFile expected_copy_of(std::string path, const fs::path& source) {
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) throw std::runtime_error("registry harness: cannot stat " + source.string());
  ExpectedFile file{.path = std::move(path), .type = ExpectedFile::Type::regular, .mode = st.st_mode & 07777};
  file.size = static_cast<std::uint64_t>(st.st_size);
  file.sha256 = sha256_of_file(source);
  if (file.size <= kInlineContentLimit) file.content = read_file(source);
  return file;
}

ExpectedFile expected_directory(std::string path, std::uint32_t mode) {
  return {.path = std::move(path), .type = ExpectedFile::Type::directory, .mode = mode};
}

ExpectedFile expected_symlink(std::string path, std::string target) {
  return {.path = std::move(path), .type = ExpectedFile::Type::symlink, .link_target = std::move(target)};
}

ExpectedFile owned_by(ExpectedFile file, std::uint32_t uid, std::uint32_t gid) {
  file.uid = uid;
  file.gid = gid;
  return file;
}

void stage(const fs::path& root, const ExpectedFile& file, const fs::path& source) {
  auto path = root / fs::path(file.path).relative_path();
  fs::create_directories(path.parent_path());
  switch (file.type) {
    case ExpectedFile::Type::directory:
      fs::create_directories(path);
      break;
    case ExpectedFile::Type::symlink:
      fs::create_symlink(file.link_target, path);
      break;
    case ExpectedFile::Type::regular:
      if (!source.empty()) {
        fs::copy_file(source, path, fs::copy_options::overwrite_existing);
      } else {
        write_bytes(path, file.content);
      }
      break;
  }
  if (::lchown(path.c_str(), file.uid, file.gid) != 0) {
    throw std::runtime_error("registry harness: chown " + path.string() + ": " + std::strerror(errno));
  }
  if (file.type != ExpectedFile::Type::symlink) ::chmod(path.c_str(), file.mode);
}

std::vector<std::string> compare_rootfs(const fs::path& rootfs, const ExpectedRootfs& expected) {
  std::vector<std::string> problems;
  std::set<std::string> known;
  for (const auto& file : expected.present) {
    known.insert(file.path);
    auto found = compare_file(rootfs / fs::path(file.path).relative_path(), file);
    problems.insert(problems.end(), found.begin(), found.end());
  }
  for (const auto& path : expected.absent) {
    struct stat st {};
    if (::lstat((rootfs / fs::path(path).relative_path()).c_str(), &st) == 0) {
      problems.push_back(path + ": present, but a whiteout deleted it");
    }
  }
  if (expected.others == OtherFiles::allowed) return problems;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(rootfs, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto path = "/" + it->path().lexically_relative(rootfs).string();
    if (!known.contains(path)) problems.push_back(path + ": not expected");
  }
  return problems;
}

}  // namespace berth::testing
