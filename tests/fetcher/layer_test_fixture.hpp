#pragma once
// A layer root to extract into, with a canary directory beside it that no
// layer may touch, and a way to compare whole trees.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "berth/common/fd.hpp"
#include "berth/fetcher/layer_extractor.hpp"
#include "layer_archives.hpp"
#include "support/temp_dir.hpp"

namespace berth::fetcher {
namespace fs = std::filesystem;

inline void PrintTo(const Digest& digest, std::ostream* out) { *out << digest.str(); }

inline bool mentions(const Error& error, std::string_view text) {
  return error.what().find(text) != std::string::npos;
}

// Everything about one file that a layer could change, without following a
// symlink: type and mode, owner, size, mtime, link count, and the content or
// link target.
inline std::string describe(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "missing";
  std::string out = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                    " size=" + std::to_string(st.st_size) + " mtime=" + std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec) + " nlink=" + std::to_string(st.st_nlink);
  if (S_ISREG(st.st_mode)) out += " data=" + berth::testing::slurp(path);
  if (S_ISLNK(st.st_mode)) out += " target=" + fs::read_symlink(path).string();
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) out += " rdev=" + std::to_string(st.st_rdev);
  return out;
}

// Every path under `top` (relative, "" for top itself) and its description.
using TreeSnapshot = std::map<std::string, std::string>;
inline TreeSnapshot snapshot(const fs::path& top) {
  TreeSnapshot tree{{"", describe(top)}};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(top, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    tree[fs::relative(it->path(), top).string()] = describe(it->path());
  }
  return tree;
}

class LayerTest : public ::testing::Test {
 protected:
  LayerTest() {
    fs::create_directory(canary);
    berth::testing::write_text(canary / "secret", "canary");
    canary_before = snapshot(canary);
    root_fd = make_root(root);
  }

  static UniqueFd make_root(const fs::path& path) {
    fs::create_directory(path);
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  Result<LayerStats> extract(std::string layer, const LayerOptions& options = {}) {
    return extract_layer(root_fd.get(), berth::testing::memory_source(std::move(layer)), options);
  }

  void expect_canary_untouched() const { EXPECT_EQ(snapshot(canary), canary_before); }

  struct stat lstat_of(const std::string& relative) const {
    struct stat st {};
    EXPECT_EQ(::lstat((root / relative).c_str(), &st), 0) << relative;
    return st;
  }

  berth::testing::TempDir temp;
  fs::path root = temp / "root";
  fs::path canary = temp / "canary";
  TreeSnapshot canary_before;
  UniqueFd root_fd;
};

}  // namespace berth::fetcher
