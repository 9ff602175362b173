#pragma once
// Helpers shared by the isolator tests.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "berth/isolators/cgroupfs.hpp"
#include "support/temp_dir.hpp"

// For a test that needs controllers the hybrid build host lacks: it skips
// there, and runs in the test VM (tests/vm), whose runner sets
// BERTH_FULL_CGROUP2=1 so that a skip there is a failure.
#define BERTH_SKIP_WITHOUT_FULL_CGROUP2(why)                                      \
  do {                                                                          \
    if (const char* full = std::getenv("BERTH_FULL_CGROUP2"); full && std::string(full) == "1") \
      FAIL() << "BERTH_FULL_CGROUP2=1 but " << why;                             \
    GTEST_SKIP() << why << " (runs in tests/vm)";                               \
  } while (0)

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
