#include "berth/agent/containerizer.hpp"

#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>


#include <csignal>

#include <fmt/ranges.h>

#include "berth/agent/paths.hpp"
#include "berth/common/files.hpp"
#include "berth/common/netns.hpp"
#include "berth/common/log.hpp"
#include "berth/fetcher/image_store.hpp"
#include "berth/isolators/cgroups.hpp"
#include "berth/isolators/namespaces.hpp"

namespace berth::agent {
namespace asio = boost::asio;
namespace fs = std::filesystem;

struct Containerizer::Container {
  ContainerProcess process;
  fs::path runtime_dir;
  UniqueFd pidfd;
  bool child = true;  // launched by this agent process (so it can reap the init)
};

namespace {
constexpr std::size_t kNetworkNamespacesReady = 4;
}  // namespace

Result<fs::path> default_cgroups_root() {
  for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    struct statfs fs {};
    if (::statfs(mount, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return fs::path(mount) / "berth";
  }
  return fail("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified: pass --cgroups_root");
}

Result<std::unique_ptr<Containerizer>> Containerizer::create(asio::any_io_executor executor,
                                                             const isolators::CgroupsOptions& options,
                                                             isolators::SecurityOptions security_options,
                                                             std::optional<isolators::UserNamespaceOptions> userns,
                                                             std::optional<isolators::NetworkOptions> network) {
  BERTH_TRY(auto cgroups, with_context(isolators::CgroupsIsolator::create(options), "--cgroups_root"));
  BERTH_TRY(auto security, isolators::SecurityIsolator::create(std::move(security_options)));
  if (!cgroups->missing_controllers().empty()) {
    log::warn("Running WITHOUT the cgroup controllers {} (--allow_missing_cgroup_controllers): their limits are not "
              "enforced and their statistics are not collected",
              fmt::join(cgroups->missing_controllers(), ", "));
  }
  BERTH_TRY(auto sampler, isolators::cgroups2::StatsSampler::create({.enabled = cgroups->enabled_controllers()}));
  auto* cgroups_ptr = cgroups.get();
  std::vector<std::unique_ptr<isolators::Isolator>> table;
  table.push_back(std::move(cgroups));
  table.push_back(std::make_unique<isolators::NamespacesIsolator>());
  table.push_back(std::move(security));
  if (userns) {
    BERTH_TRY(auto user_namespaces, isolators::UserNamespaceIsolator::create(std::move(*userns)));
    table.push_back(std::move(user_namespaces));
  }
  std::unique_ptr<launcher::NetworkNamespacePool> pool;
  isolators::NetworkIsolator* network_ptr = nullptr;
  if (network) {
    // Namespaces are made ahead of launches; a launch that finds none ready makes its own.
    BERTH_TRY(pool, launcher::NetworkNamespacePool::create(kNetworkNamespacesReady));
    network->make_namespace = [raw = pool.get()]() -> Result<UniqueFd> {
      if (auto fd = raw->take()) return fd;
      BERTH_TRY(auto home, netns::current());
      return netns::make(home.get());
    };
    BERTH_TRY(auto isolator, with_context(isolators::NetworkIsolator::create(std::move(*network)), "network isolator"));
    network_ptr = isolator.get();
    table.push_back(std::move(isolator));
  }
  BERTH_TRY_VOID(with_context(launcher::prepare_launches(), "preparing the launcher"));
  BERTH_TRY(auto exits, launcher::ExitWatcher::create(executor));
  log::info("Container exits are watched with {}", launcher::to_string(exits->backend()));
  auto containerizer = std::make_unique<Containerizer>(executor, std::move(table),
                                                       std::make_unique<launcher::LinuxLauncher>(), cgroups_ptr,
                                                       std::move(exits), std::move(sampler));
  containerizer->network_ = network_ptr;
  containerizer->namespaces_ = std::move(pool);
  return containerizer;
}

Containerizer::Containerizer(asio::any_io_executor executor,
                             std::vector<std::unique_ptr<isolators::Isolator>> isolators,
                             std::unique_ptr<launcher::Launcher> launcher, isolators::CgroupsIsolator* cgroups,
                             std::unique_ptr<launcher::ExitWatcher> exits,
                             std::unique_ptr<isolators::cgroups2::StatsSampler> sampler)
    : executor_(executor),
      isolators_(std::move(isolators)),
      launcher_(std::move(launcher)),
      cgroups_(cgroups),
      exits_(std::move(exits)),
      sampler_(std::move(sampler)) {}

Containerizer::~Containerizer() = default;

Result<isolators::LaunchInfo> Containerizer::prepare(const ContainerSpec& spec) {
  isolators::ContainerConfig config{
      .container_id = spec.container_id, .limits = spec.limits, .security = spec.security, .network = spec.network};
  if (!network_ && spec.network.mode != isolators::NetworkMode::host) {
    return fail(std::string(isolators::to_string(spec.network.mode)) +
                " networking is not enabled on this agent (--isolation network/bridge)");
  }
  isolators::LaunchInfo merged;
  for (auto& isolator : isolators_) {
    auto info = isolator->prepare(config);
    if (!info) return fail(std::move(info).error().context(std::string(isolator->name()) + " isolator"));
    merged.namespaces |= info->namespaces;
    if (info->cgroup) merged.cgroup = info->cgroup;
    merged.env.insert(merged.env.end(), info->env.begin(), info->env.end());
    if (info->seccomp) merged.seccomp = info->seccomp;
    if (info->capabilities) merged.capabilities = info->capabilities;
    if (info->user_ids) merged.user_ids = info->user_ids;
    if (info->network) merged.network = info->network;
    merged.no_new_privileges |= info->no_new_privileges;
    merged.masked_paths.insert(merged.masked_paths.end(), info->masked_paths.begin(), info->masked_paths.end());
    merged.readonly_paths.insert(merged.readonly_paths.end(), info->readonly_paths.begin(),
                                 info->readonly_paths.end());
  }
  if (merged.network && merged.user_ids) {
    return fail(std::string(isolators::to_string(spec.network.mode)) +
                " networking is not supported together with a user namespace (label berth.user_namespace=false)");
  }
  return merged;
}

namespace {

// The writable layer of an image container and its mount point: the upper
// directory may be large, and nothing in it outlives the container. (The
// sandbox stays, for the task's output.)
void remove_image_dirs(const fs::path& container_dir) {
  for (const char* dir : {"upper", "work", "rootfs", "layers"}) {
    auto path = container_dir / dir;
    if (!fs::exists(path)) continue;
    if (auto removed = files::remove_all(path); !removed) {
      log::warn("Removing {}: {}", path.string(), removed.error().what());
    }
  }
}

// A command task as an OCI config: the host's root filesystem, the sandbox as
// working directory, the isolators' namespaces, and a /proc of its own when
// it has its own pids.
// An image task's filesystem: the overlay at rootfs/, the kernel filesystems
// a container expects, the sandbox at /mnt/mesos/sandbox, and the host's
// name resolution files (the task shares the host's network).
// In a user namespace, an image's layers (owned by host ids) are shown
// through an idmap of the container's range, attached in the container's own
// mount namespace at <container_dir>/layers/<i>; the writable layer belongs
// to the container's root.
Result<std::vector<UniqueFd>> idmap_layers(const ContainerSpec& spec, const isolators::IdRange& range,
                                          launcher::OverlayRootfs& overlay) {
  BERTH_TRY(auto userns, launcher::make_user_namespace(range.base, range.size));
  std::vector<UniqueFd> trees;
  std::vector<std::string> names;
  auto staging = spec.container_dir / "layers";
  for (std::size_t i = 0; i < overlay.layers.size(); ++i) {
    auto layer = overlay.layers_dir / overlay.layers[i];
    BERTH_TRY_VOID(fetcher::ImageStore::ensure_user_overlay_marks(layer));
    BERTH_TRY(auto tree, launcher::idmapped_tree(layer, userns.get()));
    names.push_back(std::to_string(i));
    BERTH_TRY_VOID(files::make_dirs(staging / names.back()));
    overlay.attach_fds.push_back(tree.get());
    trees.push_back(std::move(tree));
  }
  overlay.layers_dir = staging;
  overlay.layers = std::move(names);
  overlay.userxattr = true;
  for (const auto& dir : {overlay.upper, overlay.work}) {
    if (::chown(dir.c_str(), range.base, range.base) != 0) return fail_sys("chown", dir.string());
  }
  return trees;
}

// The task writes its sandbox as the account it runs as (Mesos lets an image
// task write it as the image's user); in a user namespace, as the namespace
// maps that account onto the host. Made by the agent, the sandbox is root's
// until then.
Result<void> give_sandbox(const ContainerSpec& spec, const isolators::LaunchInfo& info) {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string who = "root";
  if (spec.image) {
    uid = spec.image->uid;
    gid = spec.image->gid;
    who = "the image's user";
  } else if (spec.user) {
    uid = spec.user->uid;
    gid = spec.user->gid;
    who = "user '" + spec.user->name + "'";
  }
  if (info.user_ids) {
    if (uid >= info.user_ids->size || gid >= info.user_ids->size) {
      return fail(who + " has an id beyond the user namespace's range");
    }
    uid += info.user_ids->base;
    gid += info.user_ids->base;
  }
  if (uid == 0 && gid == 0) return {};
  auto sandbox = paths::sandbox_dir(spec.container_dir);
  if (::chown(sandbox.c_str(), uid, gid) != 0) return fail_sys("chown", sandbox.string());
  return {};
}

void add_image_rootfs(launcher::oci::Spec& oci, const ContainerSpec& spec, const isolators::LaunchInfo& info) {
  bool user_namespace = info.user_ids.has_value();
  const auto& image = *spec.image;
  oci.root.path = (spec.container_dir / "rootfs").string();
  oci.process.cwd = image.cwd;
  oci.process.user.uid = image.uid;
  oci.process.user.gid = image.gid;
  oci.mounts.push_back({"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}});
  oci.mounts.push_back({"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}});
  // A new sysfs needs a network namespace of the container's own user
  // namespace; in a user namespace the host's is bound instead (read-only).
  if (user_namespace) {
    oci.mounts.push_back({"/sys", "bind", "/sys", {"rbind", "ro", "nosuid", "noexec", "nodev"}});
  } else {
    oci.mounts.push_back({"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}});
  }
  oci.mounts.push_back({kImageSandboxPath, "bind", paths::sandbox_dir(spec.container_dir).string(), {"rbind", "rw"}});
  if (info.network) return;  // its own files, bound by add_network_files
  for (const char* file : {"/etc/resolv.conf", "/etc/hosts"}) {
    if (fs::exists(file)) oci.mounts.push_back({file, "bind", file, {"bind", "ro", "nosuid", "nodev", "noexec"}});
  }
}

// A container with a network namespace of its own joins the one its
// isolator made, and sees that network's hosts, hostname and resolv.conf
// files. On the host's filesystem, only files the host has are covered (a
// mount point is never made in the host's /etc).
void add_network(launcher::oci::Spec& oci, const ContainerSpec& spec, const isolators::ContainerNetwork& network) {
  for (auto& ns : oci.linux_config.namespaces) {
    if (ns.type == CLONE_NEWNET) ns.path = network.namespace_path;
  }
  oci.hostname = network.hostname;
  // sysfs shows the network devices of the namespace it was mounted in: a
  // task on the host's filesystem gets one of its own (as Mesos's
  // port_mapping isolator does), or it would list the host's interfaces.
  if (!spec.image) oci.mounts.push_back({"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}});
  for (const auto& [target, source] : network.files) {
    if (!spec.image && !fs::exists(target)) continue;
    oci.mounts.push_back({target, "bind", source.string(), {"bind", "ro", "nosuid", "nodev", "noexec"}});
  }
}

launcher::oci::Spec command_task_spec(const ContainerSpec& spec, const isolators::LaunchInfo& info) {
  launcher::oci::Spec oci;
  oci.process.args = spec.argv;
  oci.process.env = spec.env;
  oci.process.env.insert(oci.process.env.end(), info.env.begin(), info.env.end());
  oci.process.cwd = paths::sandbox_dir(spec.container_dir).string();
  for (int flag : {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWUSER}) {
    if (info.namespaces & flag) oci.linux_config.namespaces.push_back({flag, {}});
  }
  if (info.namespaces & CLONE_NEWUTS) oci.hostname = spec.container_id.substr(0, 12);
  if ((info.namespaces & CLONE_NEWNS) && (info.namespaces & CLONE_NEWPID)) {
    oci.mounts.push_back({"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}});
  }
  if (spec.image) add_image_rootfs(oci, spec, info);
  if (info.network) add_network(oci, spec, *info.network);
  if (info.capabilities) {
    const auto& caps = *info.capabilities;
    oci.process.capabilities = launcher::oci::Capabilities{caps.bounding, caps.effective, caps.inheritable,
                                                           caps.permitted, caps.ambient};
  }
  oci.process.no_new_privileges = info.no_new_privileges;
  if (spec.user && !spec.image) {
    oci.process.user.uid = spec.user->uid;
    oci.process.user.gid = spec.user->gid;
    oci.process.user.additional_gids = spec.user->groups;
  }
  if (info.user_ids) {
    oci.linux_config.uid_mappings = {{0, info.user_ids->base, info.user_ids->size}};
    oci.linux_config.gid_mappings = {{0, info.user_ids->base, info.user_ids->size}};
  }
  if (info.namespaces & CLONE_NEWNS) {
    oci.linux_config.masked_paths = info.masked_paths;
    oci.linux_config.readonly_paths = info.readonly_paths;
  }
  return oci;
}

}  // namespace

Result<ContainerProcess> Containerizer::launch(const ContainerSpec& spec) {
  auto launched = [&]() -> Result<launcher::Launched> {
    BERTH_TRY(auto info, prepare(spec));
    launcher::LaunchRequest request;
    request.container_id = spec.container_id;
    request.spec = command_task_spec(spec, info);
    request.stdout_path = paths::stdout_file(spec.container_dir);
    request.stderr_path = paths::stderr_file(spec.container_dir);
    request.runtime_dir = paths::runtime_dir(spec.container_dir);
    if (info.user_ids) {
      // The container's root is an unprivileged host id: it gets its own
      // output files and runtime directory.
      for (const auto& path : {paths::stdout_file(spec.container_dir), paths::stderr_file(spec.container_dir),
                               paths::runtime_dir(spec.container_dir)}) {
        if (::chown(path.c_str(), info.user_ids->base, info.user_ids->base) != 0) return fail_sys("chown", path.string());
      }
    }
    BERTH_TRY_VOID(give_sandbox(spec, info));
    if (info.seccomp) {
      request.seccomp = std::make_shared<const launcher::SeccompProgram>(
          launcher::SeccompProgram{.instructions = info.seccomp->instructions, .flags = 0});
    }
    std::vector<UniqueFd> idmapped;  // held until the launch attached them
    if (spec.image) {
      if (!(info.namespaces & CLONE_NEWNS)) return fail("an image needs a mount namespace");
      for (const char* dir : {"rootfs", "upper", "work"}) BERTH_TRY_VOID(files::make_dirs(spec.container_dir / dir));
      request.overlay = launcher::OverlayRootfs{spec.image->layers_dir, spec.image->layers,
                                                spec.container_dir / "upper", spec.container_dir / "work"};
      if (info.user_ids) {
        BERTH_TRY(idmapped, idmap_layers(spec, *info.user_ids, *request.overlay));
      }
    }
    UniqueFd cgroup_fd;
    if (info.cgroup) {
      BERTH_TRY(cgroup_fd, cgroups_->open(spec.container_id));
      request.cgroup_fd = cgroup_fd.get();
    }
    BERTH_TRY(auto process, launcher_->launch(request));
    for (auto& isolator : isolators_) {
      auto isolated = isolator->isolate(spec.container_id, process.pid);
      if (!isolated) {
        ::syscall(SYS_pidfd_send_signal, process.pidfd.get(), SIGKILL, nullptr, 0);
        (void)launcher::reap(process.pidfd.get());
        return fail(std::move(isolated).error().context(std::string(isolator->name()) + " isolator"));
      }
    }
    return process;
  }();
  if (!launched) {
    if (auto cleaned = cleanup(spec.container_id); !cleaned) {
      log::error("Cleaning up container {} after a failed launch: {}", spec.container_id, cleaned.error().what());
    }
    remove_image_dirs(spec.container_dir);
    return fail(std::move(launched).error());
  }
  auto container = std::make_unique<Container>(Container{
      {launched->pid, launched->start_time}, paths::runtime_dir(spec.container_dir), std::move(launched->pidfd), true});
  ContainerProcess process = container->process;
  containers_[spec.container_id] = std::move(container);
  watch_statistics(spec.container_id);
  return process;
}

void Containerizer::watch_statistics(const std::string& container_id) {
  if (auto added = sampler_->add(container_id, cgroups_->cgroup_path(container_id)); !added) {
    log::warn("No statistics for container {}: {}", container_id, added.error().what());
  }
}

Result<void> Containerizer::recover(const std::vector<std::string>& known_container_ids) {
  for (auto& isolator : isolators_) {
    auto recovered = isolator->recover(known_container_ids);
    if (!recovered) return fail(std::move(recovered).error().context(std::string(isolator->name()) + " isolator recover"));
  }
  return {};
}

Result<void> Containerizer::attach(const std::string& container_id, const fs::path& container_dir,
                                   const ContainerProcess& process) {
  BERTH_TRY(auto pidfd, launcher::attach(process.pid, process.start_time));
  containers_[container_id] =
      std::make_unique<Container>(Container{process, paths::runtime_dir(container_dir), std::move(pidfd), false});
  watch_statistics(container_id);
  return {};
}

asio::awaitable<Result<ContainerExit>> Containerizer::wait(const std::string& container_id) {
  auto it = containers_.find(container_id);
  if (it == containers_.end()) co_return fail("unknown container " + container_id);
  auto* container = it->second.get();
  auto container_dir = container->runtime_dir.parent_path();
  auto exited = co_await exits_->wait_exit(container->pidfd.get());
  if (released_ || (!exited && exited.error().code() == ECANCELED)) {
    co_return fail("stopped watching container " + container_id);
  }
  if (!exited) co_return fail(std::move(exited).error().context("watching container " + container_id));
  Result<launcher::ExitStatus> init_status = fail("the container's init was not reaped by this agent");
  if (container->child) init_status = launcher::reap(container->pidfd.get());
  auto status = launcher::read_exit_status(container->runtime_dir);
  // What the cgroup says about the end, before cleanup removes it.
  auto limitation = cgroups_->limitation(container_id);
  if (!limitation) log::warn("Container {}: {}", container_id, limitation.error().what());
  sampler_->remove(container_id);
  containers_.erase(container_id);
  if (auto cleaned = cleanup(container_id); !cleaned) {
    log::error("Cleaning up container {}: {}", container_id, cleaned.error().what());
  }
  remove_image_dirs(container_dir);
  if (!status && !init_status) {
    co_return fail(std::move(status).error().context("the container's init ended without recording the task's status"));
  }
  co_return ContainerExit{status ? *status : *init_status, limitation ? *limitation : std::nullopt};
}

Result<void> Containerizer::update(const std::string& container_id, const isolators::cgroups2::Limits& limits) {
  if (!containers_.contains(container_id)) return fail(Error("no running container " + container_id, ENOENT));
  return cgroups_->update(container_id, limits);
}

Result<std::optional<isolators::Limitation>> Containerizer::limitation(const std::string& container_id) const {
  return cgroups_->limitation(container_id);
}

std::span<const isolators::cgroups2::ContainerSample> Containerizer::sample() { return sampler_->sample(); }

std::optional<std::string> Containerizer::network_address(const std::string& container_id) const {
  if (!network_) return std::nullopt;
  const auto* lease = network_->ipam().find(container_id);
  if (!lease) return std::nullopt;
  return lease->address.str();
}

std::optional<isolators::Usage> Containerizer::network_usage(const std::string& container_id) {
  if (!network_) return std::nullopt;
  auto usage = network_->usage(container_id);
  if (!usage) {
    log::debug("No network statistics for container {}: {}", container_id, usage.error().what());
    return std::nullopt;
  }
  if (!usage->net_rx_bytes) return std::nullopt;
  return *usage;
}

std::vector<std::string> Containerizer::missing_cgroup_controllers() const { return cgroups_->missing_controllers(); }

void Containerizer::release_all() {
  released_ = true;
  for (auto& [id, container] : containers_) exits_->cancel(container->pidfd.get());
}

Result<void> Containerizer::signal(const std::string& container_id, int signal) {
  auto it = containers_.find(container_id);
  if (it == containers_.end()) return fail("unknown container " + container_id);
  if (::syscall(SYS_pidfd_send_signal, it->second->pidfd.get(), signal, nullptr, 0) != 0 &&
      errno != ESRCH) {
    return fail_sys("pidfd_send_signal");
  }
  return {};
}

Result<void> Containerizer::kill(const std::string& container_id) { return signal(container_id, SIGKILL); }

Result<void> Containerizer::destroy(const std::string& container_id) {
  // A running container is cleaned up by wait() once the kill has ended it.
  if (containers_.contains(container_id)) return kill(container_id);
  sampler_->remove(container_id);
  return cleanup(container_id);
}

Result<void> Containerizer::cleanup(const std::string& container_id) {
  Result<void> result;
  for (auto it = isolators_.rbegin(); it != isolators_.rend(); ++it) {
    auto cleaned = (*it)->cleanup(container_id);
    if (!cleaned && result) result = fail(std::move(cleaned).error().context(std::string((*it)->name()) + " isolator cleanup"));
  }
  return result;
}


std::string Containerizer::cgroup(const std::string& container_id) const {
  return cgroups_->cgroup_path(container_id).string();
}

std::vector<std::string> Containerizer::cgroup_controllers() const { return cgroups_->controllers(); }

}  // namespace berth::agent
