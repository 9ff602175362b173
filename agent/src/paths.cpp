#include "berth/agent/paths.hpp"

namespace berth::agent::paths {

fs::path agent_id_file(const fs::path& work_dir) { return work_dir / "agent_id"; }
fs::path containers_dir(const fs::path& work_dir) { return work_dir / "containers"; }
fs::path container_dir(const fs::path& work_dir, const std::string& container_id) {
  return containers_dir(work_dir) / container_id;
}
fs::path checkpoint_file(const fs::path& container_dir) { return container_dir / "container.pb"; }
fs::path status_file(const fs::path& container_dir) { return container_dir / "status.pb"; }
fs::path acknowledged_file(const fs::path& container_dir) { return container_dir / "acknowledged"; }
fs::path acknowledged_status_file(const fs::path& container_dir) { return container_dir / "acknowledged_status"; }
fs::path runtime_dir(const fs::path& container_dir) { return container_dir / "runtime"; }
fs::path sandbox_dir(const fs::path& container_dir) { return container_dir / "sandbox"; }
fs::path stdout_file(const fs::path& container_dir) { return sandbox_dir(container_dir) / "stdout"; }
fs::path stderr_file(const fs::path& container_dir) { return sandbox_dir(container_dir) / "stderr"; }

}  // namespace berth::agent::paths
