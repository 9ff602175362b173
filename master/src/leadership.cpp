// Several masters, one leader (--zk): the masters contend through ZooKeeper
// (common/leader_watch.hpp). Only the leader serves the scheduler and agent
// APIs and changes roles; the others answer them with 307 to the leader, as
// Mesos's standby masters do, or 503 while no leader is known. A master that
// loses its candidacy stops, rather than risk a second leader.

#include <arpa/inet.h>

#include <fmt/format.h>

#include "berth/common/log.hpp"
#include "master_process.hpp"

namespace berth::master {

v1::MasterInfo MasterProcess::master_info() const {
  v1::MasterInfo info;
  info.set_id(master_id_);
  in_addr packed{};
  if (::inet_pton(AF_INET, flags_.ip.c_str(), &packed) == 1) info.set_ip(packed.s_addr);
  info.set_port(server_.port());
  info.set_hostname(flags_.hostname);
  info.set_version(BERTH_VERSION);
  info.set_pid(fmt::format("master@{}:{}", flags_.ip, server_.port()));
  auto* address = info.mutable_address();
  address->set_hostname(flags_.hostname);
  if (flags_.ip != "0.0.0.0") address->set_ip(flags_.ip);  // listening everywhere: reach it by name
  address->set_port(server_.port());
  return info;
}

Result<void> MasterProcess::start_election() {
  if (flags_.zk.empty()) return {};  // the only master leads
  BERTH_TRY(auto url, with_context(parse_zookeeper_url(flags_.zk), "--zk"));
  leading_ = false;
  auto executor = executor_;
  leader_watch_ = LeaderWatch::start({
      .url = url,
      .session_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(flags_.zk_session_timeout * 1000)),
      .contend = master_info(),
      .on_change = [this, executor](const std::optional<v1::MasterInfo>& leader) {
        asio::post(executor, [this, leader] { leader_changed(leader); });
      },
      .on_lost = [this, executor](const Error& why) {
        asio::post(executor, [this, why] { fatal(why.what()); });
      },
  });
  log::info("Master {} contends for leadership at {}", master_id_, flags_.zk);
  return {};
}

void MasterProcess::leader_changed(const std::optional<v1::MasterInfo>& leader) {
  if (stopping_) return;
  leader_ = leader;
  bool elected = leader && leader->id() == master_id_;
  if (elected && !leading_) {
    leading_ = true;
    elected_time_ = now_seconds();
    log::info("Elected the leading master");
    metrics_.inc("berth_master_elections_won_total");
    return;
  }
  if (!elected && leading_) {
    fatal("no longer the leading master");
    return;
  }
  if (leader) {
    log::info("Leading master is {} at {}", leader->id(), master_endpoint(*leader));
  } else {
    log::warn("No leading master is known");
  }
}

void MasterProcess::fatal(std::string_view why) {
  log::error("Stopping: {}", why);
  exit_code_ = 1;
  stop();
}

// Wraps a handler of the leader's APIs: a standby answers 307 to the leader,
// with the same path and query, or 503 while it knows of none.
http::Handler MasterProcess::leader_only(http::Handler handler) {
  return [this, handler](http::Exchange& exchange) -> asio::awaitable<void> {
    if (leading_) {
      co_await handler(exchange);
      co_return;
    }
    if (!leader_) {
      co_await exchange.respond(http::error_response(http::Status::service_unavailable, "No leading master is elected"));
      co_return;
    }
    auto redirect = http::error_response(http::Status::temporary_redirect,
                                         "This master is not the leader; the leader is " + master_endpoint(*leader_));
    redirect.set(boost::beast::http::field::location,
                 "http://" + master_endpoint(*leader_) + std::string(exchange.request().target()));
    co_await exchange.respond(std::move(redirect));
  };
}

}  // namespace berth::master
