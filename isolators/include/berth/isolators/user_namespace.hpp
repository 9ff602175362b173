#pragma once
// User namespaces: a container that asks for one (or every container, with
// the agent's --user_namespaces) runs in its own user namespace, its root
// mapped to a range of host ids no other container holds. The ranges are
// leased from a pool and the leases kept in a directory, one file per
// container, so a restarted agent keeps the leases of the containers it still
// runs and frees the others. (The containerizer shows an image's layers to
// such a container through idmapped mounts of the same range.)

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "berth/isolators/isolator.hpp"

namespace berth::isolators {

struct UserNamespaceOptions {
  bool by_default = false;             // containers get one unless their task says otherwise
  std::uint32_t first_id = 100000;     // the pool of host uids and gids
  std::uint32_t id_count = 65536 * 64;
  std::uint32_t ids_per_container = 65536;
  std::filesystem::path leases_dir;    // one file per container holding a range
};

// Leases of host id ranges, each `size` ids, from [first, first + count).
class IdRangePool {
 public:
  IdRangePool(std::uint32_t first, std::uint32_t count, std::uint32_t size);
  Result<IdRange> lease(const std::string& container_id);
  // Takes back a lease known from before (recovery); false if it overlaps another.
  bool adopt(const std::string& container_id, IdRange range);
  void release(const std::string& container_id);
  std::optional<IdRange> held_by(const std::string& container_id) const;
  std::size_t leased() const { return leases_.size(); }

 private:
  std::uint32_t first_;
  std::uint32_t slots_;
  std::uint32_t size_;
  std::map<std::string, IdRange> leases_;
  std::map<std::uint32_t, std::string> by_base_;
};

class UserNamespaceIsolator final : public Isolator {
 public:
  static Result<std::unique_ptr<UserNamespaceIsolator>> create(UserNamespaceOptions options);

  std::string_view name() const override { return "user_namespace"; }
  Result<void> recover(const std::vector<std::string>& known_container_ids) override;
  Result<LaunchInfo> prepare(const ContainerConfig& config) override;
  Result<void> cleanup(const std::string& container_id) override;

  const IdRangePool& pool() const { return pool_; }

 private:
  explicit UserNamespaceIsolator(UserNamespaceOptions options);

  UserNamespaceOptions options_;
  IdRangePool pool_;
};

}  // namespace berth::isolators
