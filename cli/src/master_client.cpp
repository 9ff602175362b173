#include "master_client.hpp"

#include <fmt/format.h>

#include <vector>

#include "scheduler_calls.hpp"

namespace berth::cli {
namespace {

namespace beast = boost::beast;

std::string http_host(const http::Endpoint& endpoint) {
  return fmt::format("{}:{}", endpoint.host, endpoint.port);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string call_name(const sched::Call& call) { return sched::Call::Type_Name(call.type()); }

std::string_view media_type(std::string_view header) {
  header = header.substr(0, header.find(';'));
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  return header;
}

}  // namespace

codec::Format stream_format(std::string_view content_type, std::string_view message_content_type) {
  auto type = media_type(content_type);
  if (type == codec::kRecordIoType) type = media_type(message_content_type);
  return type == codec::kJsonType ? codec::Format::Json : codec::Format::Protobuf;
}

http::Request MasterClient::make_call_request(const sched::Call& call) const {
  auto request = http::make_request(http::Verb::post, std::string(kSchedulerPath),
                                    codec::encode(codec::Format::Protobuf, call), codec::kProtobufType);
  request.set(beast::http::field::host, http_host(master_));
  request.set(beast::http::field::accept, codec::kProtobufType);
  return request;
}

asio::awaitable<std::expected<void, SubscribeError>> MasterClient::subscribe(
    const v1::FrameworkInfo& info, std::chrono::milliseconds timeout) {
  using Kind = SubscribeError::Kind;
  auto call = subscribe_call(info);
  close();
  records_.clear();
  if (leader_) {
    auto leader = leader_();
    if (!leader) co_return std::unexpected(SubscribeError{Kind::Unreachable, Error("no leading master is known")});
    master_ = *leader;
  }
  auto opened = co_await http::StreamingResponse::open(master_, make_call_request(call), timeout);
  if (!opened) co_return std::unexpected(SubscribeError{Kind::Unreachable, std::move(opened).error()});
  auto stream = std::move(*opened);
  // A standby master names the leader, as Mesos's do; a few hops at most.
  // With ZooKeeper its word counts instead: a standby that has not heard of
  // a new election yet still names the old, perhaps dead, leader.
  if (leader_ && stream->status() == http::Status::temporary_redirect) {
    co_return std::unexpected(SubscribeError{Kind::Unreachable, Error("the master named by ZooKeeper is not leading yet")});
  }
  for (int hops = 0; hops < 3 && stream->status() == http::Status::temporary_redirect; ++hops) {
    auto location = http::parse_endpoint(std::string(stream->head()[beast::http::field::location]), 5050);
    if (!location) break;
    master_ = *location;
    opened = co_await http::StreamingResponse::open(master_, make_call_request(call), timeout);
    if (!opened) co_return std::unexpected(SubscribeError{Kind::Unreachable, std::move(opened).error()});
    stream = std::move(*opened);
  }
  if (stream->status() == http::Status::service_unavailable) {
    co_return std::unexpected(SubscribeError{Kind::Unreachable, Error("no leading master is elected")});
  }
  if (stream->status() != http::Status::ok) {
    auto body = co_await stream->read_all(timeout);
    auto code = static_cast<unsigned>(stream->status());
    Error error(fmt::format("SUBSCRIBE answered {} {}{}{}", code, beast::http::obsolete_reason(stream->status()),
                            body && !body->empty() ? ": " : "", body ? trimmed(*body) : ""));
    auto kind = code >= 400 && code < 500 ? Kind::Refused : Kind::Unreachable;
    co_return std::unexpected(SubscribeError{kind, std::move(error)});
  }
  const auto& head = stream->head();
  stream_id_ = std::string(head[kStreamIdHeader]);
  format_ = stream_format(head[beast::http::field::content_type], head["Message-Content-Type"]);
  decoder_.emplace();
  stream_ = std::move(stream);
  co_return std::expected<void, SubscribeError>{};
}

asio::awaitable<Result<sched::Event>> MasterClient::next_event(std::chrono::milliseconds idle) {
  if (!stream_) co_return fail("not subscribed");
  while (records_.empty()) {
    auto data = co_await stream_->read_some(idle);
    if (!data) co_return fail(std::move(data).error().context("subscription stream"));
    std::vector<std::string> records;
    if (auto fed = decoder_->feed(*data, records); !fed) {
      co_return fail(std::move(fed).error().context("subscription stream"));
    }
    for (auto& record : records) records_.push_back(std::move(record));
  }
  sched::Event event;
  auto decoded = codec::decode(format_, records_.front(), event);
  records_.pop_front();
  if (!decoded) co_return fail(std::move(decoded).error().context("subscription stream"));
  co_return event;
}

asio::awaitable<Result<void>> MasterClient::call(const sched::Call& call, std::chrono::milliseconds timeout) {
  if (stream_id_.empty()) co_return fail(fmt::format("{}: not subscribed", call_name(call)));
  auto request = make_call_request(call);
  request.set(kStreamIdHeader, stream_id_);
  auto response = co_await http::request(master_, std::move(request), timeout);
  if (!response) co_return fail(std::move(response).error().context(call_name(call)));
  auto status = response->result();
  if (status == http::Status::accepted || status == http::Status::ok) co_return Result<void>{};
  auto body = trimmed(response->body());
  co_return fail(fmt::format("{} answered {} {}{}{}", call_name(call), static_cast<unsigned>(status),
                             beast::http::obsolete_reason(status), body.empty() ? "" : ": ", body));
}

void MasterClient::close() {
  if (stream_) stream_->close();
}

}  // namespace berth::cli
