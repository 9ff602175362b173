#include "berth/isolators/user_namespace.hpp"

#include <sched.h>

#include <fmt/format.h>

#include <charconv>
#include <set>

#include "berth/common/files.hpp"
#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"

namespace berth::isolators {
namespace fs = std::filesystem;

IdRangePool::IdRangePool(std::uint32_t first, std::uint32_t count, std::uint32_t size)
    : first_(first), slots_(size == 0 ? 0 : count / size), size_(size) {}

Result<IdRange> IdRangePool::lease(const std::string& container_id) {
  if (auto held = held_by(container_id)) return *held;
  for (std::uint32_t slot = 0; slot < slots_; ++slot) {
    std::uint32_t base = first_ + slot * size_;
    if (by_base_.contains(base)) continue;
    IdRange range{base, size_};
    leases_[container_id] = range;
    by_base_[base] = container_id;
    return range;
  }
  return fail(fmt::format("no free range of {} host ids left for a user namespace ({} containers hold all {})", size_,
                          leases_.size(), slots_));
}

bool IdRangePool::adopt(const std::string& container_id, IdRange range) {
  if (range.size != size_ || range.base < first_ || (range.base - first_) % size_ != 0 ||
      (range.base - first_) / size_ >= slots_ || by_base_.contains(range.base)) {
    return false;
  }
  leases_[container_id] = range;
  by_base_[range.base] = container_id;
  return true;
}

void IdRangePool::release(const std::string& container_id) {
  auto it = leases_.find(container_id);
  if (it == leases_.end()) return;
  by_base_.erase(it->second.base);
  leases_.erase(it);
}

std::optional<IdRange> IdRangePool::held_by(const std::string& container_id) const {
  auto it = leases_.find(container_id);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

namespace {

std::optional<IdRange> parse_lease(const std::string& text) {
  IdRange range;
  auto space = text.find(' ');
  if (space == std::string::npos) return std::nullopt;
  auto end = text.data() + text.size();
  while (end > text.data() && (end[-1] == '\n')) --end;
  if (std::from_chars(text.data(), text.data() + space, range.base).ec != std::errc{}) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data() + space + 1, end, range.size);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return range;
}

}  // namespace

UserNamespaceIsolator::UserNamespaceIsolator(UserNamespaceOptions options)
    : options_(std::move(options)),
      pool_(options_.first_id, options_.id_count, options_.ids_per_container) {}

Result<std::unique_ptr<UserNamespaceIsolator>> UserNamespaceIsolator::create(UserNamespaceOptions options) {
  if (options.ids_per_container == 0 || options.id_count < options.ids_per_container) {
    return fail(fmt::format("user namespaces: a pool of {} ids cannot hold a range of {}", options.id_count,
                            options.ids_per_container));
  }
  if (options.first_id == 0) return fail("user namespaces: the pool of host ids must not start at 0 (root)");
  if (static_cast<std::uint64_t>(options.first_id) + options.id_count > 0xFFFFFFFFULL) {
    return fail("user namespaces: the pool of host ids goes past 2^32 - 1");
  }
  BERTH_TRY_VOID(files::make_dirs(options.leases_dir));
  return std::unique_ptr<UserNamespaceIsolator>(new UserNamespaceIsolator(std::move(options)));
}

Result<void> UserNamespaceIsolator::recover(const std::vector<std::string>& known_container_ids) {
  std::set<std::string> known(known_container_ids.begin(), known_container_ids.end());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.leases_dir, ec)) {
    auto id = entry.path().filename().string();
    auto text = files::read(entry.path());
    auto range = text ? parse_lease(*text) : std::nullopt;
    if (known.contains(id) && range && pool_.adopt(id, *range)) continue;
    if (known.contains(id)) {
      log::error("Container {}: its user namespace lease {} cannot be kept; its ids are free again", id,
                 entry.path().string());
    }
    (void)files::remove_all(entry.path());
  }
  if (ec) return fail(Error("listing user namespace leases in", ec.value(), options_.leases_dir.string()));
  return {};
}

Result<LaunchInfo> UserNamespaceIsolator::prepare(const ContainerConfig& config) {
  LaunchInfo info;
  if (!config.security.user_namespace.value_or(options_.by_default)) return info;
  if (!ids::is_safe_path_component(config.container_id)) return fail("unsafe container id " + config.container_id);
  BERTH_TRY(auto range, pool_.lease(config.container_id));
  auto lease = options_.leases_dir / config.container_id;
  if (auto written = files::write_atomic(lease, fmt::format("{} {}\n", range.base, range.size)); !written) {
    pool_.release(config.container_id);
    return fail(written.error());
  }
  info.namespaces = CLONE_NEWUSER;
  info.user_ids = range;
  return info;
}

Result<void> UserNamespaceIsolator::cleanup(const std::string& container_id) {
  if (!pool_.held_by(container_id)) return {};
  pool_.release(container_id);
  return files::remove_all(options_.leases_dir / container_id);
}

}  // namespace berth::isolators
