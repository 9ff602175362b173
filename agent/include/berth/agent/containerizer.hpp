#pragma once
// Runs tasks in containers: the isolators (in table order) say what each
// container needs, the launcher starts it, and the containerizer watches the
// container's init through its pidfd on the agent's event loop, with one
// ExitWatcher (io_uring WAITID or POLL_ADD, or epoll) for every container.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/cgroups2/limits.hpp"
#include "berth/isolators/cgroups2/stats_sampler.hpp"
#include "berth/agent/host_user.hpp"
#include "berth/isolators/isolator.hpp"
#include "berth/isolators/network.hpp"
#include "berth/isolators/security.hpp"
#include "berth/isolators/user_namespace.hpp"
#include "berth/launcher/exit_watcher.hpp"
#include "berth/launcher/launcher.hpp"
#include "berth/launcher/netns_pool.hpp"

namespace berth::agent {

// A container's root filesystem from an image: its unpacked layers under a
// writable layer of the container's own (an overlay in the container's mount
// namespace), and where and as whom the task runs in it.
struct ContainerImage {
  std::filesystem::path layers_dir;  // the image store's layers/
  std::vector<std::string> layers;   // relative to layers_dir, top first
  std::string cwd = "/";
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct ContainerSpec {
  std::string container_id;
  std::filesystem::path container_dir;  // see paths.hpp
  std::vector<std::string> argv;
  std::vector<std::string> env;
  isolators::cgroups2::Limits limits;   // container_limits.hpp
  std::optional<ContainerImage> image = {};  // empty: the host's filesystem
  isolators::TaskSecurity security = {};     // capabilities and seccomp profile the task asks for
  std::optional<HostUser> user = {};         // a command task's host account; empty: the agent's (root)
  isolators::TaskNetwork network = {};       // host, bridge or none; port mappings; bandwidth
};

// Where the sandbox appears inside an image's root filesystem (Mesos's path).
inline constexpr const char* kImageSandboxPath = "/mnt/mesos/sandbox";

// How a container ended: the task's own status, and the limit its cgroup
// hit, if one did (read before the cgroup is removed).
struct ContainerExit {
  launcher::ExitStatus status;
  std::optional<isolators::Limitation> limitation;
};

struct ContainerProcess {
  pid_t pid = -1;
  std::uint64_t start_time = 0;
};

class Containerizer {
 public:
  // The default isolator table: cgroups (see CgroupsOptions), namespaces,
  // security, then user namespaces and the network when asked for. Without
  // `network`, tasks share the host's network and bridge or none fails.
  static Result<std::unique_ptr<Containerizer>> create(boost::asio::any_io_executor executor,
                                                       const isolators::CgroupsOptions& cgroups,
                                                       isolators::SecurityOptions security = {},
                                                       std::optional<isolators::UserNamespaceOptions> user_namespaces = {},
                                                       std::optional<isolators::NetworkOptions> network = {});
  Containerizer(boost::asio::any_io_executor executor,
                std::vector<std::unique_ptr<isolators::Isolator>> isolators,
                std::unique_ptr<launcher::Launcher> launcher, isolators::CgroupsIsolator* cgroups,
                std::unique_ptr<launcher::ExitWatcher> exits,
                std::unique_ptr<isolators::cgroups2::StatsSampler> sampler);
  ~Containerizer();

  // Prepares, launches and isolates. On failure nothing of the container is left.
  Result<ContainerProcess> launch(const ContainerSpec& spec);
  // Lets the isolators remove what belongs to no known container (after an agent restart).
  Result<void> recover(const std::vector<std::string>& known_container_ids);
  // Watches a container that outlived an agent restart.
  Result<void> attach(const std::string& container_id, const std::filesystem::path& container_dir,
                      const ContainerProcess& process);
  // Completes when the container's init has ended, after its isolators cleaned up.
  // The status is the task's own (as the init recorded it).
  boost::asio::awaitable<Result<ContainerExit>> wait(const std::string& container_id);
  // The limit the container's cgroup hit, if any (before destroy()).
  Result<std::optional<isolators::Limitation>> limitation(const std::string& container_id) const;
  // Enforces new limits on a running container.
  Result<void> update(const std::string& container_id, const isolators::cgroups2::Limits& limits);
  // The statistics of every running container, read in one batch.
  std::span<const isolators::cgroups2::ContainerSample> sample();
  // The container's address on the bridge; nullopt in host or none mode.
  std::optional<std::string> network_address(const std::string& container_id) const;
  // What the container sent and received; nullopt without a network of its own.
  std::optional<isolators::Usage> network_usage(const std::string& container_id);
  // Signals the container's init, which forwards catchable signals to the task.
  Result<void> signal(const std::string& container_id, int signal);
  // Kills everything in the container at once.
  Result<void> kill(const std::string& container_id);
  // Cleans up a container that is not running (e.g. ended while the agent was down).
  Result<void> destroy(const std::string& container_id);
  std::string cgroup(const std::string& container_id) const;
  std::vector<std::string> cgroup_controllers() const;
  // Controllers --isolation asked for that this host lacks (run without them
  // with --allow_missing_cgroup_controllers).
  std::vector<std::string> missing_cgroup_controllers() const;
  // How container exits are observed: "waitid", "poll" or "epoll".
  std::string_view exit_watch_backend() const { return launcher::to_string(exits_->backend()); }
  // Stops watching every container without touching it (the agent is exiting;
  // its successor re-attaches). Pending wait()s complete with an error.
  void release_all();
  bool running(const std::string& container_id) const { return containers_.contains(container_id); }

 private:
  struct Container;
  Result<isolators::LaunchInfo> prepare(const ContainerSpec& spec);
  Result<void> cleanup(const std::string& container_id);
  void watch_statistics(const std::string& container_id);

  boost::asio::any_io_executor executor_;
  std::vector<std::unique_ptr<isolators::Isolator>> isolators_;
  std::unique_ptr<launcher::Launcher> launcher_;
  isolators::CgroupsIsolator* cgroups_;
  std::unique_ptr<launcher::ExitWatcher> exits_;
  std::unique_ptr<isolators::cgroups2::StatsSampler> sampler_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
  bool released_ = false;
  isolators::NetworkIsolator* network_ = nullptr;
  std::unique_ptr<launcher::NetworkNamespacePool> namespaces_;  // where network_ takes namespaces from
};

// The cgroup v2 directory to use when --cgroups_root is not given:
// /sys/fs/cgroup/berth on a cgroup v2 host, /sys/fs/cgroup/unified/berth on a hybrid one.
Result<std::filesystem::path> default_cgroups_root();

}  // namespace berth::agent
