#include "berth/common/leader_watch.hpp"

#include <arpa/inet.h>
// The synchronous calls of libzookeeper_mt are declared only for THREADED builds.
#define THREADED
#include <zookeeper/zookeeper.h>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "berth/common/codec.hpp"
#include "berth/common/log.hpp"

namespace berth {

namespace v1 = mesos::v1;
using namespace std::chrono_literals;

Result<ZooKeeperUrl> parse_zookeeper_url(std::string_view text) {
  constexpr std::string_view kScheme = "zk://";
  if (!text.starts_with(kScheme)) return fail(fmt::format("'{}' is not a zk://host:port/path URL", text));
  auto rest = text.substr(kScheme.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return fail(fmt::format("'{}': expecting zk://host:port[,host:port...]/path", text));
  }
  ZooKeeperUrl url{std::string(rest.substr(0, slash)), std::string(rest.substr(slash))};
  while (url.path.size() > 1 && url.path.ends_with('/')) url.path.pop_back();
  if (url.path == "/") return fail(fmt::format("'{}': the path must not be the root", text));
  if (url.servers.find('@') != std::string::npos) {
    return fail(fmt::format("'{}': ZooKeeper credentials in the URL are not supported", text));
  }
  return url;
}

bool is_zookeeper_url(std::string_view text) { return text.starts_with("zk://"); }

Result<v1::MasterInfo> parse_master_info(std::string_view node_name, std::string_view data) {
  v1::MasterInfo info;
  if (node_name.starts_with("json.info_")) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // fields of Mesos versions newer than these protos
    auto status = google::protobuf::util::JsonStringToMessage(std::string(data), &info, options);
    if (!status.ok()) return fail(fmt::format("znode {}: {}", node_name, std::string(status.message())));
  } else if (!info.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return fail(fmt::format("znode {}: not a MasterInfo", node_name));
  }
  if (!info.IsInitialized()) return fail(fmt::format("znode {}: incomplete MasterInfo", node_name));
  return info;
}

std::string master_endpoint(const v1::MasterInfo& info) {
  if (info.has_address()) {
    const auto& host = info.address().ip().empty() ? info.address().hostname() : info.address().ip();
    if (!host.empty()) return fmt::format("{}:{}", host, info.address().port());
  }
  in_addr packed{info.ip()};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &packed, text, sizeof text);
  return fmt::format("{}:{}", text, info.port());
}

namespace {

// "json.info_0000000012" -> 12; other children (Mesos's log replicas) -> nullopt.
std::optional<long long> sequence_of(std::string_view name) {
  for (std::string_view prefix : {"json.info_", "info_"}) {
    if (!name.starts_with(prefix)) continue;
    auto digits = name.substr(prefix.size());
    if (digits.empty() || !std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; })) return {};
    return std::stoll(std::string(digits));
  }
  return {};
}

}  // namespace

struct LeaderWatch::State {
  Options options;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool changed = false;   // a watch fired: look again
  int session_state = 0;  // the last session event's state
  std::thread thread;
  std::optional<std::string> leader_node;  // as last reported
  bool reported = false;

  static void on_event(zhandle_t*, int type, int session, const char*, void* context) {
    auto* self = static_cast<State*>(context);
    std::lock_guard lock(self->mutex);
    if (type == ZOO_SESSION_EVENT) self->session_state = session;
    self->changed = true;
    self->wake.notify_all();
  }

  // Waits up to `timeout` for a watch, a session event or the end.
  void wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, timeout, [&] { return stopping || changed; });
    changed = false;
  }

  bool stopped() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  int session() {
    std::lock_guard lock(mutex);
    return session_state;
  }

  void report(std::optional<std::string> node, const std::optional<v1::MasterInfo>& info) {
    if (reported && node == leader_node) return;
    reported = true;
    leader_node = std::move(node);
    options.on_change(info);
  }

  // Creates the path and its parents, as persistent nodes.
  Result<void> ensure_path(zhandle_t* zh) {
    for (std::size_t slash = 1; slash <= options.url.path.size(); ++slash) {
      if (slash != options.url.path.size() && options.url.path[slash] != '/') continue;
      auto prefix = options.url.path.substr(0, slash);
      int rc = zoo_create(zh, prefix.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, nullptr, 0);
      if (rc != ZOK && rc != ZNODEEXISTS) return fail(fmt::format("create {}: {}", prefix, zerror(rc)));
    }
    return {};
  }

  Result<std::string> contend(zhandle_t* zh) {
    auto json = codec::to_json(*options.contend);
    auto prefix = options.url.path + "/json.info_";
    std::vector<char> created(prefix.size() + 32);
    int rc = zoo_create(zh, prefix.c_str(), json.data(), static_cast<int>(json.size()), &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL_SEQUENTIAL, created.data(), static_cast<int>(created.size()));
    if (rc != ZOK) return fail(fmt::format("create {}: {}", prefix, zerror(rc)));
    std::string path(created.data());
    return path.substr(path.rfind('/') + 1);
  }

  // The lowest-numbered candidate, re-arming the children watch.
  Result<std::optional<std::string>> leader(zhandle_t* zh) {
    String_vector children{};
    int rc = zoo_wget_children(zh, options.url.path.c_str(), &State::on_event, this, &children);
    if (rc != ZOK) return fail(fmt::format("list {}: {}", options.url.path, zerror(rc)));
    std::optional<std::pair<long long, std::string>> lowest;
    for (int i = 0; i < children.count; ++i) {
      std::string name(children.data[i]);
      auto sequence = sequence_of(name);
      if (sequence && (!lowest || *sequence < lowest->first)) lowest = std::pair{*sequence, name};
    }
    deallocate_String_vector(&children);
    if (!lowest) return std::optional<std::string>{};
    return std::optional(lowest->second);
  }

  Result<v1::MasterInfo> read(zhandle_t* zh, const std::string& node) {
    std::vector<char> data(64 << 10);
    int length = static_cast<int>(data.size());
    auto path = options.url.path + "/" + node;
    int rc = zoo_get(zh, path.c_str(), 0, data.data(), &length, nullptr);
    if (rc != ZOK) return fail(fmt::format("read {}: {}", path, zerror(rc)));
    return parse_master_info(node, std::string_view(data.data(), static_cast<std::size_t>(std::max(length, 0))));
  }

  // One session: until it ends (false: for good, a contender's) or we stop.
  bool session_loop(zhandle_t* zh, std::optional<std::string>& own) {
    auto deadline = std::chrono::steady_clock::now() + options.session_timeout;
    while (session() != ZOO_CONNECTED_STATE) {
      if (stopped() || std::chrono::steady_clock::now() > deadline) return true;
      wait(100ms);
    }
    if (auto path = ensure_path(zh); !path) {
      log::warn("ZooKeeper {}: {}", options.url.servers, path.error().what());
      return true;
    }
    if (options.contend && !own) {
      auto created = contend(zh);
      if (!created) {
        log::warn("ZooKeeper {}: {}", options.url.servers, created.error().what());
        return true;
      }
      own = *created;
      log::info("Contending for leadership as {}{}", options.url.path, "/" + *own);
    }
    while (!stopped()) {
      if (session() == ZOO_EXPIRED_SESSION_STATE) return !options.contend;
      auto node = leader(zh);
      if (node && *node) {
        auto info = read(zh, **node);
        if (info) {
          report(*node, *info);
        } else {
          log::warn("ZooKeeper: {}", info.error().what());
        }
      } else if (node) {
        report(std::nullopt, std::nullopt);
      }
      if (options.contend && node && *node && own && **node != *own) {
        // Our node must still be there for us to remain a candidate.
        struct Stat stat {};
        int rc = zoo_exists(zh, (options.url.path + "/" + *own).c_str(), 0, &stat);
        if (rc == ZNONODE) return false;
      }
      wait(options.session_timeout);
    }
    return true;
  }

  void run() {
    std::optional<std::string> own;
    while (!stopped()) {
      {
        std::lock_guard lock(mutex);
        session_state = 0;
      }
      zhandle_t* zh = zookeeper_init(options.url.servers.c_str(), &State::on_event,
                                     static_cast<int>(options.session_timeout.count()), nullptr, this, 0);
      bool go_on = zh != nullptr ? session_loop(zh, own) : true;
      if (zh != nullptr) zookeeper_close(zh);
      if (!go_on || (own && !stopped())) {
        // A contender's node went with its session: it is no candidate anymore.
        if (options.on_lost) options.on_lost(Error("lost the ZooKeeper session holding this master's candidacy"));
        return;
      }
      if (stopped()) return;
      report(std::nullopt, std::nullopt);
      wait(1s);
    }
  }
};

LeaderWatch::LeaderWatch(std::unique_ptr<State> state) : state_(std::move(state)) {}

std::unique_ptr<LeaderWatch> LeaderWatch::start(Options options) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR); });
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  auto* raw = state.get();
  state->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<LeaderWatch>(new LeaderWatch(std::move(state)));
}

LeaderWatch::~LeaderWatch() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->wake.notify_all();
  }
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace berth
