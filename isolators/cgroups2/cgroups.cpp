#include "berth/isolators/cgroups.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>

#include "berth/common/log.hpp"
#include "berth/isolators/cgroupfs.hpp"
#include "berth/isolators/cgroups2/devices.hpp"

namespace berth::isolators {
namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

// Enables in `dir`/cgroup.subtree_control the `wanted` controllers `dir`
// offers and has not enabled yet, so its children get them.
Result<void> enable_offered(const fs::path& dir, const std::vector<std::string>& wanted) {
  BERTH_TRY(auto offered, cgroupfs::read_controllers(dir));
  BERTH_TRY(auto on, cgroupfs::read_subtree_control(dir));
  std::vector<std::string> names;
  for (const auto& name : wanted) {
    if (contains(offered, name) && !contains(on, name)) names.push_back(name);
  }
  return cgroupfs::enable_controllers(dir, names);
}

// rmdir of the directories ensure_root made, deepest first.
void remove_created(const std::vector<fs::path>& created) {
  for (auto dir = created.rbegin(); dir != created.rend(); ++dir) ::rmdir(dir->c_str());
}

// Creates the directories missing down to `root` (returned, top first),
// refusing anywhere but below an existing cgroup2 directory, so a wrong flag
// cannot leave a stray directory on a regular filesystem. Before each mkdir
// the parent passes on the `wanted` controllers it offers: a new cgroup only
// gets what its parent's subtree_control enables. That may fail in a parent
// that is not ours (a cgroup with processes cannot enable domain
// controllers): detection then reports the controllers as missing.
Result<std::vector<fs::path>> ensure_root(const fs::path& root, const std::vector<std::string>& wanted) {
  std::error_code ec;
  std::vector<fs::path> missing;
  fs::path existing = root;
  while (!existing.empty() && existing != existing.root_path() && !fs::exists(existing, ec)) {
    missing.insert(missing.begin(), existing);
    existing = existing.parent_path();
  }
  BERTH_TRY_VOID(cgroupfs::check_cgroup2(existing.empty() ? fs::path("/") : existing));
  std::vector<fs::path> created;
  for (const auto& dir : missing) {
    if (auto enabled = enable_offered(dir.parent_path(), wanted); !enabled) {
      log::warn("cgroups: cannot pass controllers on to {}: {}", dir.string(), enabled.error().what());
    }
    if (::mkdir(dir.c_str(), 0755) == 0) {
      created.push_back(dir);
    } else if (errno != EEXIST) {  // EEXIST: made meanwhile by someone else, not ours to remove
      auto error = Error::sys("mkdir", dir.string());
      remove_created(created);
      return fail(std::move(error));
    }
  }
  return created;
}

Result<cgroups2::Detection> detect(const CgroupsOptions& options, const fs::path& root) {
  BERTH_TRY(auto offered, cgroupfs::read_controllers(root));
  // Probing loads a BPF program: only when the filter is asked for.
  const Result<void> not_asked = fail("not required");
  const auto& devices = contains(options.required, "devices") ? cgroups2::device_filter_support() : not_asked;
  return cgroups2::detect_controllers(offered, options.required, devices);
}

void warn_missing(const fs::path& root, const cgroups2::Detection& detection) {
  std::string missing, offered;
  for (const auto& name : detection.missing) missing += " " + name;
  for (const auto& name : detection.available) offered += " " + name;
  log::warn("cgroups: running without the cgroup controllers{} (cgroup root {} offers:{})", missing, root.string(),
            offered.empty() ? " none" : offered);
}

Result<void> enable_for_containers(const fs::path& root, const cgroups2::Detection& detection) {
  std::vector<std::string> kernel;
  for (const auto& name : detection.enabled) {
    if (name != "devices") kernel.push_back(name);
  }
  return enable_offered(root, kernel);
}

}  // namespace

Result<void> check_container_id(const std::string& id) {
  bool bad = id.empty() || id == "." || id == ".." || id.size() > NAME_MAX ||
             id.find_first_of(std::string_view("/\0", 2)) != std::string::npos;
  if (bad) return fail("invalid container id \"" + id + "\" (must be usable as a directory name)");
  return {};
}

CgroupsIsolator::CgroupsIsolator(fs::path root, cgroups2::Detection detection)
    : root_(std::move(root)), detection_(std::move(detection)) {}

Result<std::unique_ptr<CgroupsIsolator>> CgroupsIsolator::create(const CgroupsOptions& options) {
  fs::path root = fs::absolute(options.root).lexically_normal();
  if (!root.has_filename()) root = root.parent_path();
  BERTH_TRY(auto created, with_context(ensure_root(root, options.required), "cgroup root " + root.string()));
  auto isolator = set_up(options, root);
  // A root that cannot serve is not left behind.
  if (!isolator) remove_created(created);
  return isolator;
}

Result<std::unique_ptr<CgroupsIsolator>> CgroupsIsolator::set_up(const CgroupsOptions& options, const fs::path& root) {
  auto context = "cgroup root " + root.string();
  BERTH_TRY(auto detection, with_context(detect(options, root), context));
  if (!detection.missing.empty() && !options.allow_missing) {
    return fail(cgroups2::missing_controllers_message(root, detection));
  }
  if (!detection.missing.empty()) warn_missing(root, detection);
  BERTH_TRY_VOID(with_context(enable_for_containers(root, detection), context + ": enable controllers"));
  return std::unique_ptr<CgroupsIsolator>(new CgroupsIsolator(root, std::move(detection)));
}

Result<std::unique_ptr<CgroupsIsolator>> CgroupsIsolator::create(fs::path root) {
  return create(CgroupsOptions{
      .root = std::move(root), .required = cgroups2::kernel_controller_names(), .allow_missing = true});
}

bool CgroupsIsolator::enabled(std::string_view controller) const {
  return contains(detection_.enabled, controller);
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

Result<void> CgroupsIsolator::apply_controllers(const cgroups2::Limits& limits, const fs::path& cgroup) const {
  for (const auto* controller : cgroups2::all_controllers()) {
    if (!enabled(controller->name())) continue;
    BERTH_TRY_VOID(with_context(controller->apply(limits, cgroup), std::string(controller->name()) + " controller"));
  }
  return {};
}

Result<LaunchInfo> CgroupsIsolator::prepare(const ContainerConfig& config) {
  BERTH_TRY_VOID(check_container_id(config.container_id));
  auto cgroup = cgroup_path(config.container_id);
  if (::mkdir(cgroup.c_str(), 0755) != 0) {
    return fail(Error::sys("create cgroup", cgroup).context("container " + config.container_id));
  }
  auto applied = apply_controllers(config.limits, cgroup);
  if (!applied) {
    // Nothing runs in it yet: rmdir is enough, and drops the device filter with it.
    (void)cgroupfs::remove_tree(cgroup);
    return fail(std::move(applied).error().context("container " + config.container_id));
  }
  LaunchInfo info;
  info.cgroup = cgroup;
  return info;
}

Result<void> CgroupsIsolator::update(const std::string& container_id, const cgroups2::Limits& limits) {
  BERTH_TRY_VOID(check_container_id(container_id));
  const auto cgroup = cgroup_path(container_id);
  const auto context = "update container " + container_id;
  if (::access(cgroup.c_str(), F_OK) != 0) return fail(Error::sys("no cgroup", cgroup).context(context));
  for (const auto* controller : cgroups2::all_controllers()) {
    if (!enabled(controller->name())) continue;
    const auto what = context + ": " + std::string(controller->name()) + " controller";
    BERTH_TRY_VOID(with_context(controller->update(limits, cgroup), what));
  }
  return {};
}

Result<cgroups2::Statistics> CgroupsIsolator::statistics(const std::string& container_id) const {
  BERTH_TRY_VOID(check_container_id(container_id));
  return with_context(cgroups2::read_cgroup_statistics(cgroup_path(container_id), detection_.enabled),
                      "statistics of container " + container_id);
}

Result<std::optional<Limitation>> CgroupsIsolator::limitation(const std::string& container_id) const {
  BERTH_TRY_VOID(check_container_id(container_id));
  return with_context(read_limitation(cgroup_path(container_id), detection_.enabled),
                      "limitation of container " + container_id);
}

Result<Usage> CgroupsIsolator::usage(const std::string& container_id) {
  BERTH_TRY_VOID(check_container_id(container_id));
  return with_context(cgroupfs::read_usage(cgroup_path(container_id)), "usage of container " + container_id);
}

Result<void> CgroupsIsolator::cleanup(const std::string& container_id) {
  BERTH_TRY_VOID(check_container_id(container_id));
  return with_context(cgroupfs::destroy(cgroup_path(container_id)), "clean up container " + container_id);
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
