// The agents this master admitted, kept in <work_dir>/agents (a checksummed
// record, common/record.hpp, of one id per line) so that a restarted master
// knows which agents may still come back. As Mesos's master does after a
// failover, it gives each of them --agent_reregister_timeout to re-register,
// and meanwhile does not answer an explicit reconciliation of a task on one
// of them: "unknown" would be a lie while the agent may still report it.

#include <fmt/format.h>

#include <filesystem>
#include <ranges>

#include "berth/common/files.hpp"
#include "berth/common/log.hpp"
#include "berth/common/record.hpp"
#include "master_process.hpp"

namespace berth::master {

namespace {

std::filesystem::path registry_file(const Flags& flags) { return std::filesystem::path(flags.work_dir) / "agents"; }

}  // namespace

Result<void> MasterProcess::load_agent_registry() {
  if (flags_.work_dir.empty()) return {};
  auto path = registry_file(flags_);
  if (!std::filesystem::exists(path)) return {};
  BERTH_TRY(auto data, files::read(path));
  BERTH_TRY(auto text, with_context(record::open(data), path.string()));
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(flags_.agent_reregister_timeout));
  for (auto part : std::views::split(std::string_view(text), '\n')) {
    std::string id(part.begin(), part.end());
    if (!id.empty()) recovered_agents_[id] = deadline;
  }
  if (!recovered_agents_.empty()) {
    log::info("{} agents may re-register within {}s (--agent_reregister_timeout)", recovered_agents_.size(),
              flags_.agent_reregister_timeout);
  }
  return {};
}

void MasterProcess::save_agent_registry() const {
  if (flags_.work_dir.empty()) return;
  std::string text;
  for (const auto& [id, agent] : agents_) text += id + "\n";
  for (const auto& [id, deadline] : recovered_agents_) {
    if (!agents_.contains(id)) text += id + "\n";
  }
  auto saved = files::make_dirs(flags_.work_dir);
  if (saved) saved = files::write_atomic(registry_file(flags_), record::seal(text));
  if (!saved) log::error("Failed to record the admitted agents: {}", saved.error().what());
}

void MasterProcess::agent_admitted(const std::string& agent_id, bool known) {
  bool recovered = recovered_agents_.erase(agent_id) > 0;
  if (!known && !recovered) save_agent_registry();
}

void MasterProcess::expire_recovered_agents(Clock::time_point now) {
  auto expired = std::erase_if(recovered_agents_, [&](const auto& entry) {
    if (now < entry.second) return false;
    log::warn("Agent {} did not re-register within --agent_reregister_timeout; its tasks are unknown", entry.first);
    return true;
  });
  if (expired > 0) save_agent_registry();
}

}  // namespace berth::master
