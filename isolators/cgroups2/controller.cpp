#include "berth/isolators/cgroups2/controller.hpp"

#include "berth/isolators/cgroupfs.hpp"

namespace berth::isolators::cgroups2 {
namespace fs = std::filesystem;

namespace {

Result<void> write_all(const fs::path& cgroup, const std::vector<CgroupFileWrite>& writes) {
  for (const auto& write : writes) BERTH_TRY_VOID(cgroupfs::write_file(cgroup / write.file, write.value));
  return {};
}

Result<void> read_one(const StatFile& file, const fs::path& cgroup, Statistics& out) {
  const fs::path path = cgroup / file.name;
  auto text = cgroupfs::read_file(path);
  if (!text && text.error().code() == ENOENT && file.presence == StatPresence::optional) return {};
  if (!text) return fail(std::move(text).error());
  auto parsed = file.parse(*text, out);
  if (!parsed) return fail(Error(parsed.error().message(), parsed.error().code(), path.string()));
  return {};
}

}  // namespace

Result<void> FileController::apply(const Limits& limits, const fs::path& cgroup) const {
  BERTH_TRY(auto writes, plan(limits, Unset::keep, cgroup));
  return write_all(cgroup, writes);
}

Result<void> FileController::update(const Limits& limits, const fs::path& cgroup) const {
  BERTH_TRY(auto writes, plan(limits, Unset::restore, cgroup));
  return write_all(cgroup, writes);
}

bool selected(const StatFile& file, StatSelection selection) {
  return selection == StatSelection::all || file.scope == StatScope::core;
}

Result<void> read_statistics(const Controller& controller, const fs::path& cgroup, StatSelection selection,
                             Statistics& out) {
  for (const auto& file : controller.stat_files()) {
    if (selected(file, selection)) BERTH_TRY_VOID(read_one(file, cgroup, out));
  }
  return {};
}

}  // namespace berth::isolators::cgroups2
