#include "berth/runtime/state_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "berth/common/files.hpp"

namespace berth::runtime {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kOciVersion = "1.0.2";
constexpr const char* kStateFile = "state.json";
constexpr const char* kLockFile = "lock";

Result<Status> parse_status(std::string_view name) {
  for (auto status : {Status::creating, Status::created, Status::running, Status::stopped}) {
    if (status_name(status) == name) return status;
  }
  return fail("unknown status '" + std::string(name) + "'");
}

Result<UniqueFd> lock_file(const fs::path& dir) {
  auto path = dir / kLockFile;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail_sys("open", path.string());
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return fail_sys("flock", path.string());
  }
  return fd;
}

json::object to_object(const ContainerState& state) {
  json::object annotations;
  for (const auto& [key, value] : state.annotations) annotations[key] = value;
  json::object object{{"ociVersion", kOciVersion},
                      {"id", state.id},
                      {"status", status_name(state.status)},
                      {"bundle", state.bundle.string()}};
  if (state.status == Status::created || state.status == Status::running) object["pid"] = state.pid;
  if (!annotations.empty()) object["annotations"] = std::move(annotations);
  return object;
}

// Reads a field of the stored state; errors name it.
template <typename T>
Result<T> field(const json::object& object, std::string_view name) {
  auto* value = object.if_contains(name);
  if (!value) return fail("missing '" + std::string(name) + "'");
  auto out = json::try_value_to<T>(*value);
  if (!out) return fail("'" + std::string(name) + "' has the wrong type");
  return *out;
}

}  // namespace

std::string_view status_name(Status status) {
  switch (status) {
    case Status::creating: return "creating";
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::stopped: return "stopped";
  }
  return "unknown";
}

std::string state_json(const ContainerState& state) { return json::serialize(to_object(state)); }

Result<void> check_id(std::string_view id) {
  if (id.empty()) return fail("container id is empty");
  if (id.size() > 1024) return fail("container id is longer than 1024 characters");
  if (id == "." || id == "..") return fail("container id '" + std::string(id) + "' is not allowed");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '+' || c == '-';
    if (!ok) return fail("container id '" + std::string(id) + "' has a character outside [A-Za-z0-9_.+-]");
  }
  return {};
}

Result<UniqueFd> StateStore::create(std::string_view id) {
  BERTH_TRY_VOID(check_id(id));
  BERTH_TRY_VOID(files::make_dirs(root_));
  auto path = dir(id);
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return fail("container '" + std::string(id) + "' already exists");
    return fail_sys("mkdir", path.string());
  }
  return lock_file(path);
}

Result<UniqueFd> StateStore::lock(std::string_view id) {
  BERTH_TRY_VOID(check_id(id));
  auto path = dir(id);
  if (!fs::is_directory(path)) return fail("container '" + std::string(id) + "' does not exist");
  return lock_file(path);
}

Result<void> StateStore::save(const ContainerState& state) {
  auto object = to_object(state);
  object["pid"] = state.pid;
  object["startTime"] = state.start_time;
  object["cgroup"] = state.cgroup.string();
  object["created"] = state.created;
  return files::write_atomic(dir(state.id) / kStateFile, json::serialize(object));
}

Result<ContainerState> StateStore::load(std::string_view id) const {
  BERTH_TRY_VOID(check_id(id));
  auto path = dir(id) / kStateFile;
  if (!fs::exists(path)) return fail("container '" + std::string(id) + "' does not exist");
  BERTH_TRY(auto text, files::read(path));
  auto parsed = [&]() -> Result<ContainerState> {
    boost::system::error_code ec;
    auto value = json::parse(text, ec);
    if (ec || !value.is_object()) return fail("not a JSON object");
    const auto& object = value.as_object();
    ContainerState state;
    BERTH_TRY(state.id, field<std::string>(object, "id"));
    BERTH_TRY(auto status, field<std::string>(object, "status"));
    BERTH_TRY(state.status, parse_status(status));
    BERTH_TRY(state.pid, field<pid_t>(object, "pid"));
    BERTH_TRY(state.start_time, field<std::uint64_t>(object, "startTime"));
    BERTH_TRY(auto bundle, field<std::string>(object, "bundle"));
    BERTH_TRY(auto cgroup, field<std::string>(object, "cgroup"));
    BERTH_TRY(state.created, field<std::string>(object, "created"));
    state.bundle = bundle;
    state.cgroup = cgroup;
    if (auto* annotations = object.if_contains("annotations")) {
      auto map = json::try_value_to<std::map<std::string, std::string>>(*annotations);
      if (!map) return fail("'annotations' is not an object of strings");
      state.annotations = std::move(*map);
    }
    return state;
  }();
  return with_context(std::move(parsed), "state of container '" + std::string(id) + "' (" + path.string() + ")");
}

Result<void> StateStore::remove(std::string_view id) {
  BERTH_TRY_VOID(check_id(id));
  return files::remove_all(dir(id));
}

}  // namespace berth::runtime
