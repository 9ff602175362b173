#pragma once
// HTTP/1.1 for the daemons and clients: a coroutine server with exact and
// prefix routes and long-lived chunked streams, and a client for one-shot and
// streaming requests. Boost.Beast underneath; one io_context thread per user.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;
using Status = beast::http::status;
using Verb = beast::http::verb;

Response make_response(Status status, std::string body, std::string_view content_type = "text/plain");
// A 4xx/5xx answer whose body is a human-readable message.
Response error_response(Status status, std::string_view message);

class Connection;

// A server-side chunked response that stays open: one HTTP chunk per send().
// It takes the socket over from its connection, and holds no coroutine while
// idle: a server keeps thousands of these, a few hundred bytes each.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(asio::ip::tcp::socket socket, std::size_t max_queued_bytes);
  // No-op once closed. A peer that reads too slowly for the stream to drain
  // (more than Server::Options::max_stream_queue_bytes waiting) is cut off:
  // the stream closes and overflowed() tells why, so that a stalled
  // subscriber cannot make the server's memory grow without bound.
  void send(std::string data);
  void close();                 // ends the stream (terminal chunk) and the connection
  bool is_open() const { return open_; }
  bool overflowed() const { return overflowed_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  // `callback` runs once, from the executor, after the stream closed by
  // either side (the peer hanging up included); at once if it already has.
  void on_close(std::function<void()> callback);

 private:
  friend class Exchange;
  friend class Server;
  void peer_gone();
  void shut();
  void start_writer();
  void watch_peer();
  void notify_closed();
  asio::awaitable<void> write_queued();

  asio::ip::tcp::socket socket_;
  // Links the server's open streams, so that stopping it ends them.
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> server_link_;
  std::vector<std::string> queue_;  // a deque would hold half a KiB even when empty
  std::size_t queued_bytes_ = 0;
  std::size_t max_queued_bytes_ = 0;  // 0: no limit
  bool overflowed_ = false;
  bool open_ = true;
  bool peer_gone_ = false;
  bool writing_ = false;  // a writer coroutine runs
  bool finished_ = false;  // the terminal chunk is written, or cannot be
  char peer_byte_ = 0;
  std::function<void()> on_close_;
};

// One request on a server connection.
class Exchange {
 public:
  Exchange(Connection& connection, Request request);
  const Request& request() const { return request_; }
  std::string_view path() const;
  std::optional<std::string> query(std::string_view key) const;  // percent-decoded
  std::string remote_address() const;
  asio::awaitable<void> respond(Response response);
  // Sends `head` with Transfer-Encoding: chunked; the body follows through the stream.
  asio::awaitable<std::shared_ptr<Stream>> stream(Response head);
  bool answered() const { return answered_; }
  const std::shared_ptr<Stream>& open_stream() const { return stream_; }

 private:
  Connection& connection_;
  Request request_;
  bool answered_ = false;
  std::shared_ptr<Stream> stream_;
};

using Handler = std::function<asio::awaitable<void>(Exchange&)>;

// Wraps a handler so that any other method gets 405 with an Allow header.
Handler only(Verb verb, Handler handler);

class Server {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: any free port
    std::size_t max_body_bytes = 4 << 20;
    std::size_t max_header_bytes = 16 << 10;
    std::chrono::seconds idle_timeout{60};
    // Bytes a Stream may hold for a peer that does not read them.
    std::size_t max_stream_queue_bytes = 64 << 20;
  };
  Server(asio::any_io_executor executor, Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void route(std::string path, Handler handler);         // exact path
  void route_prefix(std::string prefix, Handler handler); // any path starting with prefix
  Result<void> listen();
  std::uint16_t port() const { return port_; }
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};
// "host:port", "host" (default port), "http://host:port/...", "[::1]:port".
Result<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port);

Request make_request(Verb verb, std::string target, std::string body = {}, std::string_view content_type = {});
// One request on its own connection, bounded by `timeout` overall.
asio::awaitable<Result<Response>> request(Endpoint endpoint, Request request, std::chrono::milliseconds timeout);
// The same, blocking, on a private io_context (tests, CLIs).
Result<Response> request_sync(Endpoint endpoint, Request request, std::chrono::milliseconds timeout);

// A response whose body arrives over time.
class StreamingResponse {
 public:
  static asio::awaitable<Result<std::unique_ptr<StreamingResponse>>> open(Endpoint endpoint, Request request,
                                                                           std::chrono::milliseconds timeout);
  ~StreamingResponse();
  const beast::http::response_header<>& head() const;
  Status status() const;
  // The next body bytes; an Error "end of stream" once the body is complete.
  asio::awaitable<Result<std::string>> read_some(std::chrono::milliseconds idle_timeout = {});
  asio::awaitable<Result<std::string>> read_all(std::chrono::milliseconds timeout);
  void close();

  struct Impl;

 private:
  explicit StreamingResponse(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
