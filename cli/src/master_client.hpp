#pragma once
// The framework's side of the master's scheduler API (Mesos v1): POST
// /api/v1/scheduler with SUBSCRIBE opens a RecordIO stream of Events, and every
// other Call goes on a request of its own carrying the stream's Mesos-Stream-Id.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "berth/common/codec.hpp"
#include "berth/common/error.hpp"
#include "berth/common/http.hpp"
#include "berth/common/recordio.hpp"
#include "mesos/v1/scheduler.pb.h"

namespace berth::cli {

namespace asio = boost::asio;
namespace v1 = berth::mesos::v1;
namespace sched = berth::mesos::v1::scheduler;

inline constexpr std::string_view kSchedulerPath = "/api/v1/scheduler";
inline constexpr std::string_view kStreamIdHeader = "Mesos-Stream-Id";

struct SubscribeError {
  // Refused: the master answered with a 4xx, so trying again unchanged will not help.
  enum class Kind { Unreachable, Refused };
  Kind kind;
  Error error;
};

// The format the stream's records are in: the Content-Type of the response, or for
// application/recordio its Message-Content-Type; protobuf when neither says.
codec::Format stream_format(std::string_view content_type, std::string_view message_content_type);

class MasterClient {
 public:
  // Names the leading master when masters elect one (--master=zk://...);
  // nullopt while none is known.
  using LeaderLookup = std::function<std::optional<http::Endpoint>()>;

  explicit MasterClient(http::Endpoint master, LeaderLookup leader = {})
      : master_(std::move(master)), leader_(std::move(leader)) {}
  MasterClient(const MasterClient&) = delete;
  MasterClient& operator=(const MasterClient&) = delete;

  const http::Endpoint& endpoint() const { return master_; }

  // Opens a new subscription, replacing any previous one, at the leading
  // master (a standby's 307 is followed). The first event on it is SUBSCRIBED.
  asio::awaitable<std::expected<void, SubscribeError>> subscribe(const v1::FrameworkInfo& info,
                                                                 std::chrono::milliseconds timeout);

  // The next event on the subscription; an error once the stream ends, breaks, or
  // stays silent for `idle` (zero: no limit).
  asio::awaitable<Result<sched::Event>> next_event(std::chrono::milliseconds idle);

  // Sends `call` on the current subscription; success is 202 Accepted.
  asio::awaitable<Result<void>> call(const sched::Call& call, std::chrono::milliseconds timeout);

  // Closes the stream under a pending next_event(), which then fails.
  void close();

 private:
  http::Request make_call_request(const sched::Call& call) const;

  http::Endpoint master_;
  LeaderLookup leader_;
  std::unique_ptr<http::StreamingResponse> stream_;
  std::string stream_id_;
  codec::Format format_ = codec::Format::Protobuf;
  std::optional<recordio::Decoder> decoder_;
  std::deque<std::string> records_;
};

}  // namespace berth::cli
