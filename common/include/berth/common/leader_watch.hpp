#pragma once
// The leading master of a cluster whose masters elect one through
// ZooKeeper, with Mesos's layout, so that Mesos tools and frameworks that
// find their master in ZooKeeper find Berth's too:
//
//   zk://host1:2181,host2:2181/mesos
//     <path>/json.info_0000000007   ephemeral, sequential: a master's MasterInfo
//     <path>/json.info_0000000009   as JSON; the lowest sequence number leads
//
// A master contends by creating its node; masters, agents and the CLI watch
// the children of the path for the leader. Everything runs on a thread of
// the watch's own, and the callbacks are called there: post them on.
//
// A contender whose session expires has lost its candidacy: on_lost is
// called (a master then stops, as Mesos's does, rather than risk two
// leaders). A watcher reconnects. While the ensemble cannot be reached, the
// leader is unknown (nullopt).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth {

struct ZooKeeperUrl {
  std::string servers;  // "host1:2181,host2:2181"
  std::string path;     // "/mesos", never ending in '/'
};

// "zk://host:port[,host:port...]/path"; errors name what is wrong.
Result<ZooKeeperUrl> parse_zookeeper_url(std::string_view text);
bool is_zookeeper_url(std::string_view text);

// The MasterInfo in a znode: JSON ("json.info_") or, from old Mesos masters,
// protobuf ("info_").
Result<mesos::v1::MasterInfo> parse_master_info(std::string_view node_name, std::string_view data);

// "host:port" to reach a master at: its address' hostname or IP, else the
// packed IPv4 of older MasterInfos.
std::string master_endpoint(const mesos::v1::MasterInfo& info);

class LeaderWatch {
 public:
  using OnChange = std::function<void(const std::optional<mesos::v1::MasterInfo>& leader)>;
  using OnLost = std::function<void(const Error& why)>;

  struct Options {
    ZooKeeperUrl url;
    std::chrono::milliseconds session_timeout{10'000};
    // Set for a master that contends; unset to only watch.
    std::optional<mesos::v1::MasterInfo> contend;
    OnChange on_change;
    OnLost on_lost = {};
  };

  static std::unique_ptr<LeaderWatch> start(Options options);
  // Ends the session (a contender's node goes with it) and joins the thread.
  ~LeaderWatch();
  LeaderWatch(const LeaderWatch&) = delete;
  LeaderWatch& operator=(const LeaderWatch&) = delete;

  struct State;

 private:
  explicit LeaderWatch(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth
