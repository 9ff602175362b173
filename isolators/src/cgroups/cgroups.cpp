#include "berth/isolators/cgroups.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>

#include "berth/common/log.hpp"
#include "berth/isolators/cgroup_controllers.hpp"
#include "berth/isolators/cgroupfs.hpp"

namespace berth::isolators {
namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

// Refuses to create the root anywhere but below an existing cgroup2 directory,
// so a wrong flag cannot leave a stray directory on a regular filesystem.
Result<void> ensure_root(const fs::path& root) {
  std::error_code ec;
  if (fs::exists(root, ec)) return cgroupfs::check_cgroup2(root);
  fs::path existing = root.parent_path();
  while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
  BERTH_TRY_VOID(cgroupfs::check_cgroup2(existing.empty() ? fs::path("/") : existing));
  fs::create_directories(root, ec);
  if (ec) return fail(Error("mkdir", ec.value(), root.string()));
  return cgroupfs::check_cgroup2(root);
}

Result<void> enable_managed_controllers(const fs::path& root, const std::vector<std::string>& available) {
  std::vector<std::string> wanted;
  for (const auto* controller : cgroup_controllers()) {
    if (contains(available, controller->name())) wanted.emplace_back(controller->name());
  }
  return cgroupfs::enable_controllers(root, wanted);
}

}  // namespace

Result<void> check_container_id(const std::string& id) {
  bool bad = id.empty() || id == "." || id == ".." || id.size() > NAME_MAX ||
             id.find_first_of(std::string_view("/\0", 2)) != std::string::npos;
  if (bad) return fail("invalid container id \"" + id + "\" (must be usable as a directory name)");
  return {};
}

Result<std::unique_ptr<CgroupsIsolator>> CgroupsIsolator::create(fs::path root) {
  root = fs::absolute(root).lexically_normal();
  if (root.has_filename() == false) root = root.parent_path();
  auto context = "cgroup root " + root.string();
  auto ensured = ensure_root(root);
  if (!ensured) return fail(std::move(ensured).error().context(context));
  auto available = cgroupfs::read_controllers(root);
  if (!available) return fail(std::move(available).error().context(context));
  auto enabled = enable_managed_controllers(root, *available);
  if (!enabled) return fail(std::move(enabled).error().context(context + ": enable controllers"));
  return std::unique_ptr<CgroupsIsolator>(new CgroupsIsolator(std::move(root), std::move(*available)));
}

fs::path CgroupsIsolator::cgroup_path(const std::string& container_id) const { return root_ / container_id; }

Result<std::vector<std::string>> CgroupsIsolator::list() const { return cgroupfs::list_children(root_); }

Result<UniqueFd> CgroupsIsolator::open(const std::string& container_id) const {
  BERTH_TRY_VOID(check_container_id(container_id));
  auto path = cgroup_path(container_id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_sys("open cgroup", path);
  return fd;
}

Result<void> CgroupsIsolator::apply_controllers(const ContainerConfig& config, const fs::path& cgroup) const {
  BERTH_TRY(auto enabled, cgroupfs::read_controllers(cgroup));
  for (const auto* controller : cgroup_controllers()) {
    if (!contains(enabled, controller->name())) continue;
    auto applied = controller->apply(config, cgroup);
    if (!applied) return fail(std::move(applied).error().context(std::string(controller->name()) + " controller"));
  }
  return {};
}

Result<LaunchInfo> CgroupsIsolator::prepare(const ContainerConfig& config) {
  BERTH_TRY_VOID(check_container_id(config.container_id));
  auto cgroup = cgroup_path(config.container_id);
  if (::mkdir(cgroup.c_str(), 0755) != 0) {
    return fail(Error::sys("create cgroup", cgroup).context("container " + config.container_id));
  }
  auto applied = apply_controllers(config, cgroup);
  if (!applied) {
    (void)cgroupfs::remove_tree(cgroup);
    return fail(std::move(applied).error().context("container " + config.container_id));
  }
  LaunchInfo info;
  info.cgroup = cgroup;
  return info;
}

Result<Usage> CgroupsIsolator::usage(const std::string& container_id) {
  BERTH_TRY_VOID(check_container_id(container_id));
  auto usage = cgroupfs::read_usage(cgroup_path(container_id));
  if (!usage) return fail(std::move(usage).error().context("usage of container " + container_id));
  return usage;
}

Result<void> CgroupsIsolator::cleanup(const std::string& container_id) {
  BERTH_TRY_VOID(check_container_id(container_id));
  auto destroyed = cgroupfs::destroy(cgroup_path(container_id));
  if (!destroyed) return fail(std::move(destroyed).error().context("clean up container " + container_id));
  return {};
}

Result<void> CgroupsIsolator::recover(const std::vector<std::string>& known_container_ids) {
  BERTH_TRY(auto present, list());
  Result<void> outcome;
  for (const auto& id : present) {
    if (contains(known_container_ids, id)) continue;
    log::info("cgroups: destroying orphan cgroup {}", cgroup_path(id).string());
    auto destroyed = cgroupfs::destroy(cgroup_path(id));
    // Keep going: one stuck orphan must not keep the others alive.
    if (!destroyed && outcome) outcome = fail(std::move(destroyed).error().context("recover: orphan " + id));
  }
  return outcome;
}

}  // namespace berth::isolators
