#pragma once
// HTTP/1.1 for the daemons and clients: a coroutine server with exact and
// prefix routes and long-lived chunked streams, and a client for one-shot and
// streaming requests. Boost.Beast underneath; one io_context thread per user.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
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
class Stream {
 public:
  explicit Stream(std::shared_ptr<Connection> connection);
  void send(std::string data);  // no-op once closed
  void close();                 // ends the stream (terminal chunk) and the connection
  bool is_open() const { return open_; }
  // Completes once the stream is closed by either side (the peer hanging up included).
  asio::awaitable<void> wait_closed();

 private:
  friend class Connection;
  friend class Exchange;
  void peer_gone();
  asio::awaitable<void> write_loop();

  std::shared_ptr<Connection> connection_;
  std::deque<std::string> queue_;
  bool open_ = true;
  bool peer_gone_ = false;
  bool finished_ = false;  // the writer is done
  asio::steady_timer wakeup_;
  asio::steady_timer closed_;
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
