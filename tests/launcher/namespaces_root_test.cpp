// Joining namespaces by path, and the pool of fresh network namespaces
// (root): a container joins exactly the namespace it is given, a pooled one
// is fresh (loopback only, down) and never handed out twice, and a path that
// is not a namespace of the right type is refused naming it.

#include <sys/stat.h>

#include "berth/common/netns.hpp"
#include "berth/launcher/netns_pool.hpp"
#include "launcher/rootfs_test_util.hpp"
#include "support/process.hpp"

namespace berth::launcher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ns_name(int fd) {
  struct stat info {};
  EXPECT_EQ(::fstat(fd, &info), 0);
  return "net:[" + std::to_string(info.st_ino) + "]";
}

class NamespacesTest : public testing::RootfsLaunchTest {
 protected:
  // Runs `script` joining the network namespace at `path`.
  testing::Ran in_netns(const std::string& path, const std::string& script) {
    auto s = spec({"sh", "-c", script});
    s.linux_config.namespaces.push_back({CLONE_NEWNET, path});
    return run(std::move(s));
  }
};

TEST_F(NamespacesTest, AContainerJoinsTheNetworkNamespaceAtItsPath) {
  UniqueFd home(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  auto made = netns::make(home.get());
  ASSERT_TRUE(made) << made.error().what();
  auto ran = in_netns(NetworkNamespacePool::path_of(*made), "readlink /proc/self/ns/net");
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, ns_name(made->get()) + "\n");
  EXPECT_NE(ns_name(made->get()), ns_name(home.get()));
}

TEST_F(NamespacesTest, PooledNamespacesAreFreshAndNeverSharedOrReused) {
  auto pool = NetworkNamespacePool::create(2);
  ASSERT_TRUE(pool) << pool.error().what();
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(berth::testing::wait_until([&] { return (*pool)->ready() > 0; }, 5s));
    auto ns = (*pool)->take();
    ASSERT_TRUE(ns);
    auto ran = in_netns(NetworkNamespacePool::path_of(ns),
                        "readlink /proc/self/ns/net; cut -d: -f1 /proc/net/dev | tail -n +3; cat /sys/class/net/lo/flags");
    EXPECT_EQ(ran.code, 0) << ran.err;
    // Its own namespace, with a loopback device that nobody brought up (0x8: LOOPBACK, no UP).
    EXPECT_EQ(ran.out, ns_name(ns.get()) + "\n" + "    lo\n0x8\n");
    EXPECT_TRUE(seen.insert(ns_name(ns.get())).second) << "handed out twice";
  }
  EXPECT_EQ((*pool)->taken(), 4u);
}

TEST_F(NamespacesTest, AnEmptyPoolIsAMissNotAnErrorAndRefills) {
  auto pool = NetworkNamespacePool::create(1);
  ASSERT_TRUE(pool) << pool.error().what();
  // Takes far faster than namespaces can be made: soon one finds none ready.
  std::vector<UniqueFd> taken;
  for (int i = 0; i < 1000 && (*pool)->misses() == 0; ++i) {
    if (auto ns = (*pool)->take()) taken.push_back(std::move(ns));
  }
  EXPECT_EQ((*pool)->misses(), 1u);
  EXPECT_EQ((*pool)->taken(), taken.size());
  EXPECT_TRUE(berth::testing::wait_until([&] { return (*pool)->ready() == 1; }, 5s));
}

TEST_F(NamespacesTest, APathThatIsNotANetworkNamespaceIsRefusedNamingIt) {
  auto s = spec({"true"});
  s.linux_config.namespaces.push_back({CLONE_NEWNET, "/proc/self/ns/uts"});
  auto error = launch_error(std::move(s));
  EXPECT_EQ(error.what(), "/proc/self/ns/uts is not a network namespace '/proc/self/ns/uts': Invalid argument");
  auto missing = spec({"true"});
  missing.linux_config.namespaces.push_back({CLONE_NEWNET, "/no/such/ns"});
  auto missing_error = launch_error(std::move(missing));
  EXPECT_EQ(missing_error.code(), ENOENT);
  EXPECT_EQ(missing_error.path(), "/no/such/ns");
}

}  // namespace
}  // namespace berth::launcher
