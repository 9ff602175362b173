#include "support/zookeeper.hpp"

#include <stdlib.h>

#include <stdexcept>

namespace berth::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Debian's zookeeper package: its jars and the ones its server needs.
std::string classpath() {
  std::string out = "/etc/zookeeper/conf";
  for (const char* jar : {"zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-simple", "netty-handler", "netty-common",
                          "netty-transport", "netty-buffer", "netty-codec", "netty-resolver",
                          "netty-transport-native-unix-common", "metrics-core", "commons-io", "jline", "log4j-1.2"}) {
    out += std::string(":/usr/share/java/") + jar + ".jar";
  }
  return out;
}

}  // namespace

TestZooKeeper::TestZooKeeper() : port_(free_port()) {
  char name[] = "/tmp/berth-zk-XXXXXX";
  if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = name;
  fs::create_directories(dir_ / "data");
  process_ = Process::spawn({"/usr/bin/java", "-Xmx128m", "-cp", classpath(),
                             "org.apache.zookeeper.server.ZooKeeperServerMain", std::to_string(port_),
                             (dir_ / "data").string()},
                            dir_ / "zookeeper.log");
  // The JVM takes a few seconds on a small machine.
  if (!wait_until([&] { return !process_.running() || listens_on(process_.pid(), port_); }, 60s, 100ms) ||
      !process_.running()) {
    auto log = read_file(dir_ / "zookeeper.log");
    process_.stop(SIGKILL);
    throw std::runtime_error("zookeeper did not come up on " + address() + ":\n" + log);
  }
}

TestZooKeeper::~TestZooKeeper() {
  process_.stop(SIGTERM);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace berth::testing
