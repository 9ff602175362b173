#include "bundle.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <stdexcept>

namespace berth::bench {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void write_rootfs(const fs::path& rootfs) {
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc"}) fs::create_directories(rootfs / d);
  fs::copy_file("/bin/busybox", rootfs / "bin/busybox", fs::copy_options::overwrite_existing);
  for (const char* applet : {"true", "sh"}) fs::create_symlink("busybox", rootfs / "bin" / applet);
}

json::array strings(std::initializer_list<const char*> items) {
  json::array out;
  for (const char* item : items) out.emplace_back(item);
  return out;
}

json::object mount(const char* destination, const char* type, const char* source,
                   std::initializer_list<const char*> options) {
  return {{"destination", destination}, {"type", type}, {"source", source}, {"options", strings(options)}};
}

json::object config(const BundleOptions& options) {
  auto caps = strings({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  json::array namespaces;
  for (const char* type : {"pid", "network", "ipc", "uts", "mount"}) {
    if (std::string(type) == "network" && !options.network_namespace) continue;
    namespaces.push_back(json::object{{"type", type}});
  }
  json::object linux_config{
      {"namespaces", std::move(namespaces)},
      {"maskedPaths", strings({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                               "/proc/scsi"})},
      {"readonlyPaths",
       strings({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})},
  };
  if (!options.cgroups_path.empty()) linux_config["cgroupsPath"] = options.cgroups_path;
  return {
      {"ociVersion", "1.0.2-dev"},
      {"process",
       json::object{{"terminal", false},
                    {"user", json::object{{"uid", 0}, {"gid", 0}}},
                    {"args", strings({"/bin/true"})},
                    {"env", strings({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})},
                    {"cwd", "/"},
                    {"capabilities", json::object{{"bounding", caps}, {"effective", caps}, {"permitted", caps},
                                                  {"ambient", caps}}},
                    {"rlimits", json::array{json::object{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
                    {"noNewPrivileges", true}}},
      {"root", json::object{{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "bench"},
      {"mounts",
       json::array{
           mount("/proc", "proc", "proc", {}),
           mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
           mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
           mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
           mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
           mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
           mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
       }},
      {"linux", std::move(linux_config)},
  };
}

}  // namespace

void write_bundle(const fs::path& dir, const BundleOptions& options) {
  write_rootfs(dir / "rootfs");
  std::ofstream out(dir / "config.json");
  out << json::serialize(config(options));
  if (!out) throw std::runtime_error("cannot write " + (dir / "config.json").string());
}

}  // namespace berth::bench
