// The Mesos v1 scheduler API: POST /api/v1/scheduler.

#include <fmt/format.h>

#include "berth/common/ids.hpp"
#include "berth/common/log.hpp"
#include "berth/common/text.hpp"
#include "master_process.hpp"
#include "request.hpp"

namespace berth::master {
namespace {

constexpr std::string_view kStreamIdHeader = "Mesos-Stream-Id";

HttpError bad_request(std::string message) { return {http::Status::bad_request, std::move(message)}; }

std::string validate_framework_info(const v1::FrameworkInfo& info) {
  if (info.user().empty()) return "'framework_info.user' must be set";
  if (info.name().empty()) return "'framework_info.name' must be set";
  if (info.has_id() && !ids::is_safe_path_component(info.id().value())) {
    return "'framework_info.id' '" + info.id().value() + "' is not a valid id";
  }
  if (info.failover_timeout() < 0) return "'framework_info.failover_timeout' must not be negative";
  return {};
}

// As Mesos validates a call: its type's message must be present ("accept"
// for ACCEPT, ...), except for REVIVE and SUPPRESS, whose roles are optional.
std::string missing_call_body(const sched::Call& call) {
  if (call.type() == sched::Call::REVIVE || call.type() == sched::Call::SUPPRESS) return {};
  auto name = text::ascii_lower(sched::Call::Type_Name(call.type()));
  const auto* field = sched::Call::descriptor()->FindFieldByName(name);
  if (field == nullptr || call.GetReflection()->HasField(call, field)) return {};
  return "Expecting '" + name + "' to be present";
}

}  // namespace

asio::awaitable<void> MasterProcess::handle_scheduler(http::Exchange& exchange) {
  auto parsed = parse_call<sched::Call>(exchange.request());
  if (!parsed) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(parsed.error()));
    co_return;
  }
  auto& [call, negotiated] = *parsed;
  if (call.type() == sched::Call::UNKNOWN || !call.has_type()) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(bad_request("Expecting 'type' to be present")));
    co_return;
  }
  if (auto missing = missing_call_body(call); !missing.empty()) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(bad_request(missing)));
    co_return;
  }
  if (call.type() == sched::Call::SUBSCRIBE) {
    co_await subscribe(exchange, std::move(call), negotiated);
    co_return;
  }

  auto reply = [&]() -> std::expected<void, HttpError> {
    if (!call.has_framework_id()) return std::unexpected(bad_request("Expecting 'framework_id' to be present"));
    auto it = frameworks_.find(call.framework_id().value());
    if (it == frameworks_.end() || !it->second.connected) {
      return std::unexpected(HttpError{http::Status::forbidden,
                                       "Framework '" + call.framework_id().value() + "' is not subscribed"});
    }
    auto& framework = it->second;
    auto stream_id = exchange.request()[kStreamIdHeader];
    if (stream_id.empty()) return std::unexpected(bad_request("All non-subscribe calls should include the 'Mesos-Stream-Id' header"));
    if (stream_id != framework.stream_id) {
      return std::unexpected(bad_request("The stream ID '" + std::string(stream_id) +
                                         "' included in this request didn't match the stream ID "
                                         "currently associated with framework ID " + framework.id));
    }
    auto check = [](Result<void> result) -> std::expected<void, HttpError> {
      if (!result) return std::unexpected(bad_request(result.error().what()));
      return {};
    };
    switch (call.type()) {
      case sched::Call::TEARDOWN:
        remove_framework(framework.id, "framework asked to be torn down");
        return {};
      case sched::Call::ACCEPT:
        return check(accept(framework, call.accept()));
      case sched::Call::DECLINE:
        decline(framework, call.decline().offer_ids(),
                call.decline().has_filters() ? call.decline().filters().refuse_seconds() : 5.0);
        return {};
      case sched::Call::REVIVE:
        return check(revive(framework, call.revive().roles()));
      case sched::Call::SUPPRESS:
        return check(suppress(framework, call.suppress().roles()));
      case sched::Call::KILL:
        return check(kill(framework, call.kill()));
      case sched::Call::ACKNOWLEDGE:
        return check(acknowledge(framework, call.acknowledge()));
      case sched::Call::RECONCILE:
        reconcile(framework, call.reconcile());
        return {};
      case sched::Call::SHUTDOWN:
        shutdown_executor(framework, call.shutdown());
        return {};
      case sched::Call::MESSAGE:
        framework_message(framework, call.message());
        return {};
      case sched::Call::REQUEST:
        resource_request(framework, call.request());
        return {};
      case sched::Call::ACCEPT_INVERSE_OFFERS:
      case sched::Call::DECLINE_INVERSE_OFFERS: {
        const auto& ids = call.type() == sched::Call::ACCEPT_INVERSE_OFFERS
                              ? call.accept_inverse_offers().inverse_offer_ids()
                              : call.decline_inverse_offers().inverse_offer_ids();
        if (ids.empty()) return {};
        return std::unexpected(bad_request("Inverse offer " + ids[0].value() +
                                           " is unknown: this master makes no inverse offers"));
      }
      default:
        return std::unexpected(HttpError{http::Status::not_implemented,
                                         "Call type " + sched::Call::Type_Name(call.type()) +
                                             " is not supported by this master"});
    }
  }();
  if (!reply) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(reply.error()));
    co_return;
  }
  co_await exchange.respond(http::make_response(http::Status::accepted, ""));
}

asio::awaitable<void> MasterProcess::subscribe(http::Exchange& exchange, sched::Call call, Negotiated negotiated) {
  auto format = negotiated.response_format;
  auto info = call.subscribe().framework_info();
  if (auto problem = validate_framework_info(info); !problem.empty()) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(bad_request(problem)));
    co_return;
  }
  if (call.has_framework_id() && info.has_id() && call.framework_id().value() != info.id().value()) {
    co_await exchange.respond(error_response(
        bad_request("'framework_id' differs from 'subscribe.framework_info.id'")));
    co_return;
  }
  auto roles = framework_roles(info);
  if (!roles) {
    metrics_.inc("berth_master_http_bad_requests_total");
    co_await exchange.respond(error_response(bad_request(roles.error().what())));
    co_return;
  }
  std::set<std::string> suppressed(call.subscribe().suppressed_roles().begin(),
                                   call.subscribe().suppressed_roles().end());
  for (const auto& role : suppressed) {
    if (!roles->roles.contains(role)) {
      co_await exchange.respond(error_response(
          bad_request("'subscribe.suppressed_roles' lists '" + role + "', which is not one of the framework's roles")));
      co_return;
    }
  }
  std::string id = info.has_id() ? info.id().value() : next_id('F');
  info.mutable_id()->set_value(id);

  auto stream_id = admit_framework(id, info, std::move(*roles), suppressed, format);
  auto head = stream_head(negotiated);
  head.set(kStreamIdHeader, stream_id);
  auto stream = co_await exchange.stream(std::move(head));
  // While the head was written the framework may have gone or subscribed again.
  auto current = frameworks_.find(id);
  if (current == frameworks_.end() || current->second.stream_id != stream_id) {
    stream->close();
    co_return;
  }
  auto& framework = current->second;
  framework.stream = stream;
  allocator_.set_framework_active(id, true);

  sched::Event subscribed;
  subscribed.set_type(sched::Event::SUBSCRIBED);
  subscribed.mutable_subscribed()->mutable_framework_id()->set_value(id);
  subscribed.mutable_subscribed()->set_heartbeat_interval_seconds(flags_.heartbeat_interval);
  *subscribed.mutable_subscribed()->mutable_master_info() = master_info();
  send(framework, subscribed);
  request_allocation();

  stream->on_close(guarded([this, id, weak = std::weak_ptr(stream)] {
    if (auto closed = weak.lock()) framework_disconnected(id, closed);
  }));
}

// Records a (re)subscribing framework, failing over the previous connection
// of the same id; returns its new stream id. It is offered nothing until its
// event stream is open.
std::string MasterProcess::admit_framework(const std::string& id, const v1::FrameworkInfo& info, FrameworkRoles roles,
                                           const std::set<std::string>& suppressed, codec::Format format) {
  auto& framework = frameworks_[id];
  if (framework.id.empty()) {
    framework.id = id;
    framework.registered_time = now_seconds();
    log::info("Framework {} ({}) subscribed", id, info.name());
  } else {
    log::info("Framework {} ({}) re-subscribed", id, info.name());
    if (framework.stream) {
      sched::Event error;
      error.set_type(sched::Event::ERROR);
      error.mutable_error()->set_message("Framework failed over");
      send(framework, error);
      framework.stream->close();
    }
    rescind_offers(id, {});
  }
  framework.info = info;
  framework.stream_id = ids::random_string();
  framework.format = format;
  framework.connected = true;
  framework.roles = std::move(roles);
  framework.suppressed_roles = suppressed;
  allocator_.update_framework(id, framework.roles.roles, suppressed);
  allocator_.set_framework_active(id, false);
  return framework.stream_id;
}

void MasterProcess::framework_disconnected(const std::string& id, const std::shared_ptr<http::Stream>& stream) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end() || it->second.stream != stream) return;
  if (stream->overflowed()) {
    metrics_.inc("berth_master_slow_subscribers_total");
    log::warn("Framework {} read its event stream too slowly (more than {} bytes waiting): cut off", id,
              flags_.max_event_stream_bytes);
  }
  log::info("Framework {} disconnected; failover timeout {}s", id, it->second.info.failover_timeout());
  it->second.connected = false;
  it->second.stream.reset();
  it->second.disconnected_at = Clock::now();
  allocator_.set_framework_active(id, false);
  rescind_offers(id, {});
  if (it->second.info.failover_timeout() <= 0) remove_framework(id, "disconnected with no failover timeout");
}

}  // namespace berth::master
