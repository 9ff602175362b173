// The daemons under a service manager, as systemd runs them from
// deploy/systemd: Type=notify (READY, WATCHDOG, STOPPING on a real notify
// socket), and the agent in a delegated cgroup (Delegate=yes) that also holds
// its containers.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fstream>
#include <optional>

#include "support/cluster.hpp"
#include "support/root.hpp"
#include "support/temp_dir.hpp"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;

// A datagram socket where a daemon sends sd_notify messages.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  ~NotifySocket() { ::close(fd_); }
  // The next message, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout) {
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buffer[4096];
    auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, n) : "";
  }
  // Waits for a message containing `text`; returns it ("" if none came).
  std::string wait_for(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto message = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (message.find(text) != std::string::npos) return message;
    }
    return "";
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

TEST(ServiceTest, DaemonsTellTheServiceManagerWhenTheyAreReadyAliveAndStopping) {
  BERTH_REQUIRE_ROOT();
  TempDir dir;
  Cluster cluster;
  cluster.start_master();
  NotifySocket notify(dir / "notify");
  auto work = dir / "agent";
  auto agent = Process::spawn({bin("berth-agent").string(), "--master=" + cluster.master_address(),
                               "--port=" + std::to_string(free_port()), "--work_dir=" + work.string(),
                               "--cgroups_root=" + (cgroup2_mount() / ("berth-service-" + std::to_string(::getpid()))).string(),
                               "--allow_missing_cgroup_controllers", "--resources=cpus:1;mem:512"},
                              dir / "agent.log", {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=400000"});
  auto ready = notify.wait_for("READY=1", 20s);
  EXPECT_NE(ready.find("STATUS=Running tasks"), std::string::npos) << ready << read_file(dir / "agent.log");
  // Pings at half of WatchdogSec, from the event loop.
  auto start = std::chrono::steady_clock::now();
  int pings = 0;
  while (std::chrono::steady_clock::now() - start < 1500ms) {
    if (notify.next(500ms) == "WATCHDOG=1") ++pings;
  }
  EXPECT_GE(pings, 5) << "WATCHDOG_USEC=400000 wants a ping every 200 ms";
  agent.signal(SIGTERM);
  EXPECT_EQ(notify.wait_for("STOPPING=1", 10s), "STOPPING=1");
  EXPECT_EQ(agent.wait(20s), 0);
  ::rmdir((cgroup2_mount() / ("berth-service-" + std::to_string(::getpid()))).c_str());
}

// systemd starts the agent in the cgroup it delegates and --cgroups_root
// points below it: the agent moves into a leaf of its own, so that its
// cgroup can pass controllers on, and containers go beside that leaf.
TEST(ServiceTest, TheAgentLeavesItsDelegatedCgroupForALeaf) {
  BERTH_REQUIRE_ROOT();
  TempDir dir;
  Cluster cluster;
  cluster.start_master();
  auto service = cgroup2_mount() / ("berth-delegated-" + std::to_string(::getpid()));
  ASSERT_EQ(::mkdir(service.c_str(), 0755), 0) << std::strerror(errno);
  auto agent_port = free_port();
  // As systemd does: the process is in the service's cgroup before exec.
  auto agent = Process::spawn(
      {"/bin/sh", "-c",
       "echo $$ > " + (service / "cgroup.procs").string() + " && exec " + bin("berth-agent").string() +
           " --master=" + cluster.master_address() + " --port=" + std::to_string(agent_port) +
           " --work_dir=" + (dir / "agent").string() + " --cgroups_root=" + (service / "containers").string() +
           " --allow_missing_cgroup_controllers --resources='cpus:1;mem:512'"},
      dir / "agent.log");
  ASSERT_TRUE(cluster.wait_for_agent()) << read_file(dir / "agent.log");
  auto own = read_file("/proc/" + std::to_string(agent.pid()) + "/cgroup");
  auto relative = "/" + service.lexically_relative(cgroup2_mount()).string();
  EXPECT_NE(own.find("0::" + relative + "/agent\n"), std::string::npos) << own;
  EXPECT_EQ(read_file(service / "cgroup.procs"), "") << "the delegated cgroup holds no process";
  auto ran = cluster.run({"--shell", "--", "cat /proc/self/cgroup"});
  EXPECT_EQ(ran.exit_code, 0) << ran.err << read_file(dir / "agent.log");
  EXPECT_NE(ran.out.find("0::" + relative + "/containers/"), std::string::npos) << ran.out;
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  ::rmdir((service / "agent").c_str());
  ::rmdir((service / "containers").c_str());
  EXPECT_EQ(::rmdir(service.c_str()), 0) << std::strerror(errno) << ": nothing else was left in it";
}

// The unit files parse and say what the README says they say.
TEST(ServiceTest, TheUnitFilesAreValid) {
  auto units = std::filesystem::path(BERTH_SOURCE_DIR) / "deploy/systemd";
  for (const char* name : {"berth-master.service", "berth-agent.service"}) {
    auto text = read_file(units / name);
    EXPECT_NE(text.find("Type=notify"), std::string::npos) << name;
    EXPECT_NE(text.find("WatchdogSec="), std::string::npos) << name;
  }
  auto agent = read_file(units / "berth-agent.service");
  EXPECT_NE(agent.find("Delegate=yes"), std::string::npos);
  EXPECT_NE(agent.find("KillMode=process"), std::string::npos);
  if (std::filesystem::exists("/usr/bin/systemd-analyze")) {
    // verify checks the syntax and that ExecStart's binary exists: point it at the build.
    TempDir copies;
    for (const char* name : {"berth-master.service", "berth-agent.service"}) {
      auto text = read_file(units / name);
      for (std::size_t at; (at = text.find("/usr/local/bin/")) != std::string::npos;) {
        text.replace(at, std::string("/usr/local/bin/").size(), bin("").string() + "/");
      }
      write_text(copies / name, text);
    }
    auto verified = run({"/usr/bin/systemd-analyze", "verify", (copies / "berth-master.service").string(),
                         (copies / "berth-agent.service").string()},
                        30s);
    EXPECT_EQ(verified.err.find("Unknown"), std::string::npos) << verified.err;
    EXPECT_EQ(verified.err.find("Invalid"), std::string::npos) << verified.err;
  }
}

}  // namespace
}  // namespace berth::testing
