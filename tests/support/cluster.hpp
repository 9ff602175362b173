#pragma once
// A real single-node cluster for end-to-end tests: berth-master and berth-agent
// processes on free loopback ports, a private work directory and cgroup root,
// and the `berth` CLI. Its destructor stops everything; check_no_leaks() asserts
// that no container process, cgroup or mount outlived the test.

#include <boost/json.hpp>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "berth/common/http.hpp"
#include "support/process.hpp"

namespace berth::testing {

class Cluster {
 public:
  struct Options {
    std::vector<std::string> master_flags;
    std::vector<std::string> agent_flags;
    std::string agent_master = {};  // the agent's --master; empty: this cluster's master
    std::string agent_resources = "cpus:2;mem:2048";
  };
  Cluster();
  explicit Cluster(Options options);
  ~Cluster();

  void start_master();
  void start_agent();
  // The berth-agent that start_agent runs from now on (default: the build's).
  void set_agent_binary(std::filesystem::path binary) { agent_binary_ = std::move(binary); }
  // Stops a daemon with `signal` (SIGTERM: graceful; SIGKILL: crash) and returns its exit code.
  int stop_master(int signal = SIGTERM);
  int stop_agent(int signal = SIGTERM);
  bool agent_registered();  // per the master's /state
  bool wait_for_agent(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // `berth run --master ... <args>`
  RunResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  Process run_async(const std::vector<std::string>& args, const std::filesystem::path& log);

  boost::json::value master_state();
  boost::json::value agent_state();
  // The pid of the first TASK_RUNNING task per the agent's /state; 0 if none.
  std::int64_t running_task_pid();
  std::string master_log() const;
  std::string agent_log() const;
  std::string master_address() const;
  std::uint16_t master_port() const { return master_port_; }
  std::uint16_t agent_port() const { return agent_port_; }
  pid_t agent_pid() const { return agent_.pid(); }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& cgroups_root() const { return cgroups_root_; }

  // Stops the daemons, then asserts (gtest) that no process runs from the test's
  // directory, no container cgroup is left, and the mount table is as before.
  void check_no_leaks();

 private:
  Options options_;
  std::filesystem::path dir_;
  std::filesystem::path cgroups_root_;
  std::uint16_t master_port_;
  std::uint16_t agent_port_;
  std::size_t mounts_before_;
  std::filesystem::path agent_binary_;
  Process master_;
  Process agent_;
};

// Requests to a daemon on 127.0.0.1 (5 s timeout); a transport failure is a
// gtest failure and an empty response.
http::Response http_get(std::uint16_t port, const std::string& target);
http::Response http_post(std::uint16_t port, const std::string& target, std::string body,
                         std::string content_type = "application/json", std::string accept = "application/json");

std::filesystem::path bin(const std::string& name);
std::filesystem::path cgroup2_mount();
// Processes whose working directory or command line is inside `dir`.
std::vector<pid_t> processes_using(const std::filesystem::path& dir);
std::size_t mount_count();

}  // namespace berth::testing
