// The device filter enforced by the kernel (root): each test makes a cgroup
// under the cgroup2 mount, attaches a filter, and forks a child that moves
// itself into the cgroup, tries to open and mknod devices, and reports each
// errno through a pipe. The cgroups and temp files are removed afterwards.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups2/device_filter.hpp"
#include "isolators/isolators_test_util.hpp"
#include "support/root.hpp"

namespace berth::isolators::cgroups2 {
namespace {

namespace fs = std::filesystem;
using isolators::testing::TempDir;

// 0 when the call succeeded, else its errno.
int open_errno(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int mknod_errno(const fs::path& path, mode_t type, unsigned major, unsigned minor) {
  return ::mknod(path.c_str(), type | 0600, ::makedev(major, minor)) == 0 ? 0 : errno;
}

std::string errno_name(int err) { return err == 0 ? "success" : std::string(::strerrordesc_np(err)); }

// A block device this process can open outside any filter, so that EPERM in
// the cgroup is the filter's doing. (Not every one: on the Firecracker test
// hosts opening the root disk /dev/vda fails with EPERM for root anyway.)
std::optional<fs::path> openable_block_device() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev", ec)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) continue;
    if (open_errno(entry.path(), O_RDONLY | O_NONBLOCK) == 0) return entry.path();
  }
  return std::nullopt;
}

struct Attached {
  std::uint32_t count = 0;
  std::uint32_t flags = 0;
};

Attached query_device_programs(const fs::path& cgroup, std::uint32_t query_flags) {
  UniqueFd dir(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::uint32_t ids[64] = {};
  bpf_attr attr{};
  attr.query.target_fd = static_cast<std::uint32_t>(dir.get());
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.query_flags = query_flags;
  attr.query.prog_ids = reinterpret_cast<std::uintptr_t>(ids);
  attr.query.prog_cnt = 64;
  EXPECT_EQ(::syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)), 0) << std::strerror(errno);
  return {.count = attr.query.prog_cnt, .flags = attr.query.attach_flags};
}

class DeviceFilterRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    const auto mount = isolators::testing::cgroup2_mount();
    ASSERT_FALSE(mount.empty()) << "no cgroup2 mount";
    static std::atomic<int> counter{0};
    cgroup_ = mount /
              ("berth-devices-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << std::strerror(errno);
    // Device nodes made here must be usable outside the filter (no nodev mount).
    ASSERT_EQ(mknod_errno(tmp_ / "null", S_IFCHR, 1, 3), 0);
    ASSERT_EQ(open_errno(tmp_ / "null", O_RDWR), 0) << "device nodes unusable in " << tmp_.path();
  }

  // The children have been reaped by then; destroy() also kills strays.
  void TearDown() override {
    if (cgroup_.empty()) return;
    auto destroyed = cgroupfs::destroy(cgroup_);
    EXPECT_TRUE(destroyed.has_value()) << destroyed.error().what();
    EXPECT_FALSE(fs::exists(cgroup_));
  }

  // The filter stays attached after the DeviceFilter (its fd) is gone.
  static void attach_filter(const fs::path& cgroup, const std::vector<DeviceRule>& rules) {
    auto program = compile_device_filter(rules);
    ASSERT_TRUE(program.has_value()) << program.error().what();
    auto filter = DeviceFilter::load(*program);
    ASSERT_TRUE(filter.has_value()) << filter.error().what();
    UniqueFd dir(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir.valid()) << std::strerror(errno);
    auto attached = filter->attach(dir.get());
    ASSERT_TRUE(attached.has_value()) << attached.error().what();
  }

  static std::vector<DeviceRule> defaults_plus(DeviceRule extra) {
    auto rules = default_device_rules();
    rules.push_back(std::move(extra));
    return rules;
  }

  // Forks a child that writes "0" to `cgroup`/cgroup.procs (moving itself),
  // then runs each probe; returns their results (0 or an errno).
  static std::vector<int> run_in_cgroup(const fs::path& cgroup, const std::vector<std::function<int()>>& probes) {
    int pipe_fds[2];
    EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    const fs::path procs = cgroup / "cgroup.procs";
    pid_t pid = ::fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return {};
    }
    if (pid == 0) child(procs, probes, write_end.get());
    write_end.reset();
    std::vector<int> results(probes.size() + 1, -1);
    std::size_t got = read_all(read_end.get(), results);
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    EXPECT_EQ(got, results.size() * sizeof(int)) << "child reported too little";
    EXPECT_EQ(results[0], 0) << "joining the cgroup: " << errno_name(results[0]);
    return {results.begin() + 1, results.end()};
  }

  fs::path cgroup_;
  TempDir tmp_;

 private:
  [[noreturn]] static void child(const fs::path& procs, const std::vector<std::function<int()>>& probes, int out) {
    std::vector<int> results;
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    results.push_back(fd >= 0 && ::write(fd, "0", 1) == 1 ? 0 : errno);
    for (const auto& probe : probes) results.push_back(results[0] == 0 ? probe() : -1);
    bool sent = ::write(out, results.data(), results.size() * sizeof(int)) ==
                static_cast<ssize_t>(results.size() * sizeof(int));
    ::_exit(sent ? 0 : 1);
  }

  static std::size_t read_all(int fd, std::vector<int>& into) {
    auto* bytes = reinterpret_cast<char*>(into.data());
    std::size_t want = into.size() * sizeof(int);
    std::size_t got = 0;
    while (got < want) {
      ssize_t n = ::read(fd, bytes + got, want - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    return got;
  }
};

TEST_F(DeviceFilterRootTest, DefaultRulesAllowTheStandardDevicesOnly) {
  attach_filter(cgroup_, default_device_rules());
  // 1:1 is /dev/mem's number. Outside a filter, opening it fails with ENXIO
  // on kernels without CONFIG_DEVMEM (these hosts), so EPERM is the filter.
  auto results = run_in_cgroup(cgroup_, {
      [] { return open_errno("/dev/null", O_RDWR); },
      [] { return open_errno("/dev/zero", O_RDONLY); },
      [this] { return open_errno(tmp_ / "null", O_RDWR); },  // the numbers count, not the path
      [this] { return mknod_errno(tmp_ / "mem", S_IFCHR, 1, 1); },
      [this] { return open_errno(tmp_ / "mem", O_RDONLY); },
      [this] { return open_errno(tmp_ / "mem", O_WRONLY); },
  });
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0], 0) << "open /dev/null rw: " << errno_name(results[0]);
  EXPECT_EQ(results[1], 0) << "open /dev/zero r: " << errno_name(results[1]);
  EXPECT_EQ(results[2], 0) << "open own c 1:3 node rw: " << errno_name(results[2]);
  EXPECT_EQ(results[3], 0) << "mknod c 1:1 (mknod of any char device is allowed): " << errno_name(results[3]);
  EXPECT_EQ(results[4], EPERM) << "open c 1:1 r: " << errno_name(results[4]);
  EXPECT_EQ(results[5], EPERM) << "open c 1:1 w: " << errno_name(results[5]);
}

TEST_F(DeviceFilterRootTest, DefaultRulesDenyBlockDevices) {
  std::optional<fs::path> disk = openable_block_device();
  if (!disk) GTEST_SKIP() << "no block device in /dev opens here even without a filter";
  struct stat st {};
  ASSERT_EQ(::stat(disk->c_str(), &st), 0);
  attach_filter(cgroup_, default_device_rules());
  auto results = run_in_cgroup(cgroup_, {
      [&] { return open_errno(*disk, O_RDONLY | O_NONBLOCK); },
      [&] { return mknod_errno(tmp_ / "disk", S_IFBLK, ::major(st.st_rdev), ::minor(st.st_rdev)); },
      [this] { return open_errno(tmp_ / "disk", O_RDONLY | O_NONBLOCK); },
  });
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], EPERM) << "open " << *disk << ": " << errno_name(results[0]);
  EXPECT_EQ(results[1], EPERM) << "mknod of a block device: " << errno_name(results[1]);
  EXPECT_EQ(results[2], ENOENT) << "open of the node mknod did not make: " << errno_name(results[2]);
}

// c 1:11 is /dev/kmsg: it opens for read and for write as root, and is not a
// default. (/dev/mem's 1:1 would do on kernels built with CONFIG_DEVMEM.)
TEST_F(DeviceFilterRootTest, ExtraReadRuleAllowsReadingButNotWriting) {
  const fs::path kmsg = tmp_ / "kmsg";
  ASSERT_EQ(mknod_errno(kmsg, S_IFCHR, 1, 11), 0);
  ASSERT_EQ(open_errno(kmsg, O_RDONLY), 0) << "c 1:11 does not open for read here even without a filter";
  ASSERT_EQ(open_errno(kmsg, O_WRONLY), 0) << "c 1:11 does not open for write here even without a filter";
  attach_filter(cgroup_, defaults_plus({.type = 'c', .major = 1, .minor = 11, .access = "r"}));
  auto results = run_in_cgroup(cgroup_, {
      [&] { return open_errno(kmsg, O_RDONLY); },
      [&] { return open_errno(kmsg, O_WRONLY); },
      [&] { return open_errno(kmsg, O_RDWR); },
  });
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], 0) << "open r: " << errno_name(results[0]);
  EXPECT_EQ(results[1], EPERM) << "open w: " << errno_name(results[1]);
  EXPECT_EQ(results[2], EPERM) << "open rw: " << errno_name(results[2]);
}

// BPF_F_ALLOW_MULTI: a nested cgroup may attach its own filter, and ours
// still runs for it, so even an allow-everything filter there widens nothing.
TEST_F(DeviceFilterRootTest, NestedFilterCanOnlyNarrow) {
  const fs::path kmsg = tmp_ / "kmsg";
  ASSERT_EQ(mknod_errno(kmsg, S_IFCHR, 1, 11), 0);
  attach_filter(cgroup_, default_device_rules());
  const fs::path nested = cgroup_ / "nested";
  ASSERT_EQ(::mkdir(nested.c_str(), 0755), 0);
  attach_filter(nested, {{.type = 'a', .access = "rwm"}});

  Attached own = query_device_programs(cgroup_, 0);
  EXPECT_EQ(own.count, 1u);
  EXPECT_EQ(own.flags, static_cast<std::uint32_t>(BPF_F_ALLOW_MULTI));
  EXPECT_EQ(query_device_programs(nested, BPF_F_QUERY_EFFECTIVE).count, 2u);

  auto results = run_in_cgroup(nested, {
      [&] { return open_errno(kmsg, O_RDONLY); },
      [] { return open_errno("/dev/null", O_RDWR); },
  });
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], EPERM) << "open c 1:11 r: " << errno_name(results[0]);
  EXPECT_EQ(results[1], 0) << "open /dev/null rw: " << errno_name(results[1]);
}

// Attaching again (an update) replaces the cgroup's own filter rather than
// adding to it, so an update can widen access as well as narrow it.
TEST_F(DeviceFilterRootTest, AttachingAgainReplacesTheCgroupsFilter) {
  const fs::path kmsg = tmp_ / "kmsg";
  ASSERT_EQ(mknod_errno(kmsg, S_IFCHR, 1, 11), 0);
  attach_filter(cgroup_, default_device_rules());
  attach_filter(cgroup_, defaults_plus({.type = 'c', .major = 1, .minor = 11, .access = "r"}));
  EXPECT_EQ(query_device_programs(cgroup_, 0).count, 1u);
  auto widened = run_in_cgroup(cgroup_, {[&] { return open_errno(kmsg, O_RDONLY); }});
  ASSERT_EQ(widened.size(), 1u);
  EXPECT_EQ(widened[0], 0) << "open c 1:11 r after widening: " << errno_name(widened[0]);

  attach_filter(cgroup_, {{.type = 'c', .major = 1, .minor = 5, .access = "r"}});
  EXPECT_EQ(query_device_programs(cgroup_, 0).count, 1u);
  auto narrowed = run_in_cgroup(cgroup_, {[&] { return open_errno(kmsg, O_RDONLY); },
                                          [] { return open_errno("/dev/null", O_RDONLY); },
                                          [] { return open_errno("/dev/zero", O_RDONLY); }});
  ASSERT_EQ(narrowed.size(), 3u);
  EXPECT_EQ(narrowed[0], EPERM) << "open c 1:11 r after narrowing: " << errno_name(narrowed[0]);
  EXPECT_EQ(narrowed[1], EPERM) << "open /dev/null r after narrowing: " << errno_name(narrowed[1]);
  EXPECT_EQ(narrowed[2], 0) << "open /dev/zero r after narrowing: " << errno_name(narrowed[2]);
}

TEST_F(DeviceFilterRootTest, VerifierRejectionCarriesTheLog) {
  // Exits without setting r0, the return value.
  bpf_insn exit_only{};
  exit_only.code = BPF_JMP | BPF_EXIT;
  std::vector<bpf_insn> program = {exit_only};
  auto filter = DeviceFilter::load(program);
  ASSERT_FALSE(filter.has_value());
  EXPECT_EQ(filter.error().code(), EACCES) << filter.error().what();
  EXPECT_NE(filter.error().message().find("verifier log"), std::string::npos) << filter.error().what();
  EXPECT_NE(filter.error().message().find("R0 !read_ok"), std::string::npos) << filter.error().what();
}

}  // namespace
}  // namespace berth::isolators::cgroups2
