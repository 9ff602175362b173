#pragma once
// Compares unpacked layers with the files an image must hold, by mounting
// them as the overlay a container gets (root: a mount namespace).

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_images.hpp"

namespace berth::testing {

// The differences between the image's files and the overlay of `layers`
// (bottom first) as a container would see it, mounted read-only in a child
// in a mount namespace of its own.
inline std::vector<std::string> rootfs_differences(const std::vector<std::filesystem::path>& layers,
                                                   const ExpectedRootfs& expected,
                                                   const std::filesystem::path& scratch) {
  namespace fs = std::filesystem;
  std::string lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) lower += (lower.empty() ? "" : ":") + it->string();
  auto mountpoint = scratch / "rootfs";
  auto report = scratch / "differences";
  fs::create_directories(mountpoint);
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(2);
    // A single layer cannot be an overlay of one lowerdir on old kernels: bind it.
    int mounted = layers.size() == 1
                      ? ::mount(layers[0].c_str(), mountpoint.c_str(), nullptr, MS_BIND, nullptr)
                      : ::mount("overlay", mountpoint.c_str(), "overlay", MS_RDONLY, ("lowerdir=" + lower).c_str());
    if (mounted != 0) _exit(3);
    std::ofstream out(report);
    for (const auto& line : berth::testing::compare_rootfs(mountpoint, expected)) out << line << "\n";
    out.close();
    _exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {"could not mount the layers (child status " + std::to_string(status) + ")"};
  }
  std::vector<std::string> lines;
  std::ifstream in(report);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace berth::testing
