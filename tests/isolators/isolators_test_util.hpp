#pragma once
// Helpers shared by the isolator tests.

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "berth/isolators/cgroupfs.hpp"
#include "support/temp_dir.hpp"

namespace berth::isolators::testing {
using berth::testing::slurp;
using berth::testing::TempDir;
using berth::testing::write_text;

// The cgroup2 mount: the unified hierarchy on a hybrid host (the build host),
// /sys/fs/cgroup on a pure v2 one (the test VM); empty if there is none.
inline std::filesystem::path cgroup2_mount() {
  for (const char* mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (cgroupfs::check_cgroup2(mount)) return mount;
  }
  return {};
}

// The whitespace-separated words of `text` (cgroup.controllers, cgroup.procs).
inline std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace berth::isolators::testing
