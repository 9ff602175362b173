#include "support/cluster.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "berth/common/http.hpp"

namespace berth::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path bin(const std::string& name) { return fs::path(BERTH_BIN_DIR) / name; }

fs::path cgroup2_mount() {
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup";
  return "/sys/fs/cgroup/unified";
}

std::vector<pid_t> processes_using(const fs::path& dir) {
  std::vector<pid_t> out;
  auto prefix = dir.string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::error_code link_ec;
    auto cwd = fs::read_symlink(entry.path() / "cwd", link_ec).string();
    auto cmdline = read_file(entry.path() / "cmdline");
    if (cwd.starts_with(prefix) || cmdline.find(prefix) != std::string::npos) out.push_back(pid);
  }
  return out;
}

std::size_t mount_count() {
  auto text = read_file("/proc/self/mountinfo");
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

Cluster::Cluster() : Cluster(Options{}) {}

Cluster::Cluster(Options options)
    : options_(std::move(options)), master_port_(free_port()), agent_port_(free_port()),
      mounts_before_(mount_count()) {
  static std::atomic<int> counter{0};
  auto unique = std::to_string(::getpid()) + "-" + std::to_string(counter++);
  dir_ = fs::temp_directory_path() / ("berth-e2e-" + unique);
  fs::create_directories(dir_);
  cgroups_root_ = cgroup2_mount() / ("berth-e2e-" + unique);
}

Cluster::~Cluster() {
  stop_agent(SIGTERM);
  stop_master(SIGTERM);
  // Containers outlive the agent by design; a test that leaves one running must not leak it.
  for (pid_t pid : processes_using(dir_)) ::kill(pid, SIGKILL);
  if (fs::exists(cgroups_root_)) {
    std::error_code ec;
    for (const auto& child : fs::directory_iterator(cgroups_root_, ec)) {
      if (!child.is_directory()) continue;
      berth::testing::wait_until([&] {
        std::ofstream(child.path() / "cgroup.kill") << "1";
        return ::rmdir(child.path().c_str()) == 0;
      }, 5s);
    }
    ::rmdir(cgroups_root_.c_str());
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string Cluster::master_address() const { return "127.0.0.1:" + std::to_string(master_port_); }

void Cluster::start_master() {
  std::vector<std::string> argv{bin("berth-master").string(), "--port=" + std::to_string(master_port_),
                                "--work_dir=" + (dir_ / "master").string(), "--allocation_interval=0.1",
                                "--heartbeat_interval=1"};
  argv.insert(argv.end(), options_.master_flags.begin(), options_.master_flags.end());
  master_ = Process::spawn(argv, dir_ / "master.log");
  ASSERT_TRUE(wait_until([&] {
    if (!listens_on(master_.pid(), master_port_)) return false;
    auto response = http::request_sync({"127.0.0.1", master_port_},
                                       http::make_request(http::Verb::get, "/health"), 1s);
    return response && response->result() == http::Status::ok;
  }, 10s)) << master_log();
}

void Cluster::start_agent() {
  auto master = options_.agent_master.empty() ? master_address() : options_.agent_master;
  auto binary = agent_binary_.empty() ? bin("berth-agent") : agent_binary_;
  std::vector<std::string> argv{binary.string(), "--master=" + master,
                                "--port=" + std::to_string(agent_port_), "--work_dir=" + (dir_ / "agent").string(),
                                "--cgroups_root=" + cgroups_root_.string(), "--resources=" + options_.agent_resources,
                                "--registration_backoff_factor=0.1", "--status_update_retry_interval=1",
                                "--kill_grace_period=2",
                                // The build hosts are cgroup hybrid: their cgroup2 offers hardly any
                                // controller (enforcement is tested in the VM, tests/vm).
                                "--allow_missing_cgroup_controllers"};
  argv.insert(argv.end(), options_.agent_flags.begin(), options_.agent_flags.end());
  agent_ = Process::spawn(argv, dir_ / "agent.log");
}

int Cluster::stop_master(int signal) { return master_.stop(signal); }
int Cluster::stop_agent(int signal) { return agent_.stop(signal); }

bool Cluster::agent_registered() {
  auto state = master_state();
  if (!state.is_object()) return false;
  for (const auto& agent : state.at("slaves").as_array()) {
    if (agent.at("active").as_bool()) return true;
  }
  return false;
}

bool Cluster::wait_for_agent(std::chrono::milliseconds timeout) {
  return wait_until([&] { return agent_registered(); }, timeout, 100ms);
}

RunResult Cluster::run(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{bin("berth").string(), "run", "--master=" + master_address()};
  argv.insert(argv.end(), args.begin(), args.end());
  return berth::testing::run(argv, timeout);
}

Process Cluster::run_async(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv{bin("berth").string(), "run", "--master=" + master_address()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process::spawn(argv, log);
}

http::Response http_get(std::uint16_t port, const std::string& target) {
  auto response = http::request_sync({"127.0.0.1", port}, http::make_request(http::Verb::get, target), 5s);
  EXPECT_TRUE(response) << "GET " << target << ": " << (response ? "" : response.error().what());
  return response ? *response : http::Response{};
}

http::Response http_post(std::uint16_t port, const std::string& target, std::string body, std::string content_type,
                         std::string accept) {
  auto request = http::make_request(http::Verb::post, target, std::move(body), content_type);
  if (!accept.empty()) request.set(boost::beast::http::field::accept, accept);
  auto response = http::request_sync({"127.0.0.1", port}, std::move(request), 5s);
  EXPECT_TRUE(response) << "POST " << target << ": " << (response ? "" : response.error().what());
  return response ? *response : http::Response{};
}

static boost::json::value get_json(std::uint16_t port, const char* path) {
  auto response = http::request_sync({"127.0.0.1", port}, http::make_request(http::Verb::get, path), 2s);
  if (!response || response->result() != http::Status::ok) return nullptr;
  boost::system::error_code ec;
  auto value = boost::json::parse(response->body(), ec);
  return ec ? boost::json::value(nullptr) : value;
}

boost::json::value Cluster::master_state() { return get_json(master_port_, "/state"); }
boost::json::value Cluster::agent_state() { return get_json(agent_port_, "/state"); }
std::string Cluster::master_log() const { return read_file(dir_ / "master.log"); }
std::string Cluster::agent_log() const { return read_file(dir_ / "agent.log"); }

void Cluster::check_no_leaks() {
  stop_agent(SIGTERM);
  stop_master(SIGTERM);
  EXPECT_TRUE(wait_until([&] { return processes_using(dir_).empty(); }, 5s))
      << processes_using(dir_).size() << " processes still run from " << dir_;
  std::vector<std::string> cgroups;
  std::error_code ec;
  for (const auto& child : fs::directory_iterator(cgroups_root_, ec)) {
    if (child.is_directory()) cgroups.push_back(child.path().filename().string());
  }
  EXPECT_TRUE(cgroups.empty()) << cgroups.size() << " container cgroups left under " << cgroups_root_;
  EXPECT_EQ(mount_count(), mounts_before_) << "the host's mount table changed";
}

std::int64_t Cluster::running_task_pid() {
  auto state = agent_state();
  if (!state.is_object()) return 0;
  for (const auto& framework : state.at("frameworks").as_array()) {
    for (const auto& task : framework.at("tasks").as_array()) {
      if (task.at("state").as_string() == "TASK_RUNNING") return task.at("pid").as_int64();
    }
  }
  return 0;
}

}  // namespace berth::testing
