#pragma once
// A real ZooKeeper server (Debian's, on the JVM) on a free loopback port with
// a data directory of its own, for the tests of leader election among
// masters. Stopped and removed with the handle.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>

#include "support/process.hpp"

namespace berth::testing {

class TestZooKeeper {
 public:
  TestZooKeeper();  // started; throws if it does not come up
  ~TestZooKeeper();
  TestZooKeeper(const TestZooKeeper&) = delete;
  TestZooKeeper& operator=(const TestZooKeeper&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // "zk://127.0.0.1:PORT/<path>"
  std::string url(const std::string& path) const { return "zk://" + address() + path; }
  void stop() { process_.stop(SIGTERM); }

 private:
  std::filesystem::path dir_;
  std::uint16_t port_;
  Process process_;
};

}  // namespace berth::testing
