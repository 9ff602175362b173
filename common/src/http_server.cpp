#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/intrusive/list.hpp>

#include <fmt/format.h>

#include <set>

#include "berth/common/http.hpp"
#include "berth/common/log.hpp"

namespace berth::http {
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::redirect_error;
using asio::use_awaitable;

Response make_response(Status status, std::string body, std::string_view content_type) {
  Response response{status, 11};
  response.set(bhttp::field::server, "berth/" BERTH_VERSION);
  if (!content_type.empty()) response.set(bhttp::field::content_type, content_type);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response error_response(Status status, std::string_view message) {
  std::string body(message);
  if (body.empty() || body.back() != '\n') body += '\n';
  return make_response(status, std::move(body), "text/plain; charset=utf-8");
}

struct Server::State {
  asio::any_io_executor executor;
  Options options;
  tcp::acceptor acceptor;
  std::map<std::string, Handler, std::less<>> routes;
  std::map<std::string, Handler, std::less<>> prefix_routes;
  std::set<std::weak_ptr<Connection>, std::owner_less<std::weak_ptr<Connection>>> connections;
  boost::intrusive::list<Stream,
                         boost::intrusive::member_hook<Stream, decltype(Stream::server_link_), &Stream::server_link_>,
                         boost::intrusive::constant_time_size<false>>
      streams;
  bool stopped = false;

  State(asio::any_io_executor ex, Options opts) : executor(ex), options(std::move(opts)), acceptor(ex) {}
  const Handler* find(std::string_view path) const;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Server::State> server)
      : stream(std::move(socket)), server(std::move(server)) {}

  asio::awaitable<void> serve();
  void shut() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }

  beast::tcp_stream stream;
  std::shared_ptr<Server::State> server;

 private:
  asio::awaitable<bool> serve_one(beast::flat_buffer& buffer);
  // Answers a request the server will not read to its end (too large,
  // malformed). Closing at once would make the kernel reset the connection
  // over the unread bytes and destroy the answer before the client reads it,
  // so the rest of the request is drained (for at most a second) first.
  asio::awaitable<void> answer_and_close(Response response) {
    response.keep_alive(false);
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(5));
    co_await bhttp::async_write(stream, response, redirect_error(use_awaitable, ec));
    if (ec) co_return;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(1));
    static char sink[16384];
    while (!ec) {
      co_await stream.async_read_some(asio::buffer(sink), redirect_error(use_awaitable, ec));
    }
  }
};

const Handler* Server::State::find(std::string_view path) const {
  if (auto it = routes.find(path); it != routes.end()) return &it->second;
  const Handler* best = nullptr;
  std::size_t best_length = 0;
  for (const auto& [prefix, handler] : prefix_routes) {
    if (path.starts_with(prefix) && prefix.size() >= best_length) {
      best = &handler;
      best_length = prefix.size();
    }
  }
  return best;
}

Handler only(Verb verb, Handler handler) {
  return [verb, handler = std::move(handler)](Exchange& exchange) -> asio::awaitable<void> {
    auto method = exchange.request().method();
    if (method == verb || (verb == Verb::get && method == Verb::head)) {
      co_await handler(exchange);
      co_return;
    }
    auto response = error_response(Status::method_not_allowed,
                                   "Expecting '" + std::string(bhttp::to_string(verb)) + "', received '" +
                                       std::string(exchange.request().method_string()) + "'");
    response.set(bhttp::field::allow, bhttp::to_string(verb));
    co_await exchange.respond(std::move(response));
  };
}

// --- Stream ---------------------------------------------------------------

Stream::Stream(tcp::socket socket, std::size_t max_queued_bytes)
    : socket_(std::move(socket)), max_queued_bytes_(max_queued_bytes) {}

void Stream::shut() {
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

void Stream::send(std::string data) {
  if (!open_ || data.empty()) return;
  queued_bytes_ += data.size();
  if (max_queued_bytes_ > 0 && queued_bytes_ > max_queued_bytes_) {
    overflowed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    peer_gone();  // no last chunk: the peer is cut off, a write stalled on its full window ended
    return;
  }
  queue_.push_back(std::move(data));
  start_writer();
}

void Stream::close() {
  if (!open_) return;
  open_ = false;
  notify_closed();
  start_writer();  // the terminal chunk
}

void Stream::peer_gone() {
  peer_gone_ = true;
  if (open_) {
    open_ = false;
    notify_closed();
  }
  if (!writing_) finished_ = true;
  shut();  // also ends a write in flight
}

void Stream::on_close(std::function<void()> callback) {
  on_close_ = std::move(callback);
  if (!open_) notify_closed();
}

void Stream::notify_closed() {
  if (!on_close_) return;
  asio::post(socket_.get_executor(), std::exchange(on_close_, nullptr));
}

void Stream::start_writer() {
  if (writing_ || finished_) return;
  writing_ = true;
  asio::co_spawn(
      socket_.get_executor(),
      [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->write_queued(); }, asio::detached);
}

// Writes until the queue is empty, then ends: an idle stream holds no frame.
// What queued meanwhile goes out in one write, each piece its own chunk.
asio::awaitable<void> Stream::write_queued() {
  auto& socket = socket_;
  beast::error_code ec;
  std::vector<std::string> batch;
  std::vector<std::string> sizes;
  std::vector<asio::const_buffer> buffers;
  while (!queue_.empty() && !peer_gone_) {
    batch.clear();
    std::swap(batch, queue_);
    queued_bytes_ = 0;
    sizes.clear();
    buffers.clear();
    for (const auto& data : batch) sizes.push_back(fmt::format("{:x}\r\n", data.size()));
    for (std::size_t i = 0; i < batch.size(); ++i) {
      buffers.emplace_back(asio::buffer(sizes[i]));
      buffers.emplace_back(asio::buffer(batch[i]));
      buffers.emplace_back(asio::buffer("\r\n", 2));
    }
    co_await asio::async_write(socket, buffers, redirect_error(use_awaitable, ec));
    if (ec) peer_gone_ = true;
  }
  if (!open_ && !peer_gone_) {
    co_await asio::async_write(socket, asio::buffer("0\r\n\r\n", 5), redirect_error(use_awaitable, ec));
  }
  writing_ = false;
  if (peer_gone_) {
    peer_gone();
  } else if (!open_) {
    finished_ = true;
    shut();
  }
}

// The peer never sends more on a streaming connection; a completed read
// means it hung up. A plain completion handler: no frame while it waits.
void Stream::watch_peer() {
  socket_.async_read_some(
      asio::buffer(&peer_byte_, 1), [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
        if (ec || !self->open_) {
          self->peer_gone();
        } else {
          self->watch_peer();
        }
      });
}

// --- Exchange ---------------------------------------------------------------

Exchange::Exchange(Connection& connection, Request request) : connection_(connection), request_(std::move(request)) {}

std::string_view Exchange::path() const {
  std::string_view target = request_.target();
  return target.substr(0, target.find('?'));
}

static std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::string> Exchange::query(std::string_view key) const {
  std::string_view target = request_.target();
  auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == key) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string Exchange::remote_address() const {
  beast::error_code ec;
  auto endpoint = connection_.stream.socket().remote_endpoint(ec);
  return ec ? std::string() : endpoint.address().to_string();
}

asio::awaitable<void> Exchange::respond(Response response) {
  if (answered_) throw std::logic_error("a request was answered twice");
  answered_ = true;
  response.keep_alive(request_.keep_alive());
  response.set(bhttp::field::server, "berth/" BERTH_VERSION);
  response.prepare_payload();
  beast::error_code ec;
  connection_.stream.expires_after(std::chrono::seconds(30));
  co_await bhttp::async_write(connection_.stream, response, redirect_error(use_awaitable, ec));
  if (ec) connection_.shut();
}

asio::awaitable<std::shared_ptr<Stream>> Exchange::stream(Response head) {
  if (answered_) throw std::logic_error("a request was answered twice");
  answered_ = true;
  bhttp::response<bhttp::empty_body> header{head.result(), 11};
  for (const auto& field : head) header.set(field.name_string(), field.value());
  header.set(bhttp::field::server, "berth/" BERTH_VERSION);
  header.chunked(true);
  header.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> serializer{header};
  beast::error_code ec;
  connection_.stream.expires_never();
  co_await bhttp::async_write_header(connection_.stream, serializer, redirect_error(use_awaitable, ec));
  stream_ = std::make_shared<Stream>(connection_.stream.release_socket(),
                                     connection_.server->options.max_stream_queue_bytes);
  connection_.server->streams.push_back(*stream_);
  if (ec) {
    stream_->peer_gone();
  } else {
    stream_->watch_peer();
  }
  co_return stream_;
}

// --- Connection ---------------------------------------------------------------

asio::awaitable<void> Connection::serve() {
  beast::flat_buffer buffer;
  while (!server->stopped && co_await serve_one(buffer)) {
  }
  shut();  // a no-op when a stream took the socket over
}

asio::awaitable<bool> Connection::serve_one(beast::flat_buffer& buffer) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(server->options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(server->options.max_header_bytes));
  stream.expires_after(server->options.idle_timeout);
  beast::error_code ec;
  co_await bhttp::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
      ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
    co_return false;
  }
  if (ec == bhttp::error::body_limit) {
    co_await answer_and_close(error_response(
        Status::payload_too_large,
        "Request body exceeds the limit of " + std::to_string(server->options.max_body_bytes) + " bytes"));
    co_return false;
  }
  if (ec == bhttp::error::header_limit) {
    co_await answer_and_close(error_response(Status::request_header_fields_too_large, "Request headers are too large"));
    co_return false;
  }
  if (ec) {
    co_await answer_and_close(error_response(Status::bad_request, "Malformed HTTP request: " + ec.message()));
    co_return false;
  }

  Exchange exchange(*this, parser.release());
  const Handler* handler = server->find(exchange.path());
  if (!handler) {
    co_await exchange.respond(error_response(Status::not_found, "No such endpoint: " + std::string(exchange.path())));
    co_return exchange.request().keep_alive();
  }
  std::string failure;
  try {
    co_await (*handler)(exchange);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (exchange.open_stream()) co_return false;  // the stream owns the connection now
  if (!exchange.answered()) {
    log::error("Handler for {} failed: {}", exchange.path(), failure.empty() ? "no response" : failure);
    co_await exchange.respond(error_response(Status::internal_server_error,
                                             failure.empty() ? "The handler produced no response" : failure));
  }
  co_return exchange.request().keep_alive() && stream.socket().is_open();
}

// --- Server ---------------------------------------------------------------

Server::Server(asio::any_io_executor executor, Options options)
    : state_(std::make_shared<State>(executor, std::move(options))) {}

Server::~Server() { stop(); }

void Server::route(std::string path, Handler handler) { state_->routes[std::move(path)] = std::move(handler); }

void Server::route_prefix(std::string prefix, Handler handler) {
  state_->prefix_routes[std::move(prefix)] = std::move(handler);
}

static asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> state) {
  while (!state->stopped) {
    beast::error_code ec;
    auto socket = co_await state->acceptor.async_accept(redirect_error(use_awaitable, ec));
    if (ec) {
      if (state->stopped || ec == asio::error::operation_aborted) break;
      log::warn("accept: {}", ec.message());
      continue;
    }
    // Event streams are small writes to a peer that sends nothing back: with
    // Nagle's algorithm each would wait for the delayed ACK of the one before.
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = std::make_shared<Connection>(std::move(socket), state);
    state->connections.insert(connection);
    std::erase_if(state->connections, [](const auto& weak) { return weak.expired(); });
    asio::co_spawn(state->executor, [connection]() { return connection->serve(); }, asio::detached);
  }
}

Result<void> Server::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(state_->options.address, ec);
  if (ec) return fail("invalid listen address '" + state_->options.address + "': " + ec.message());
  tcp::endpoint endpoint(address, state_->options.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Error("bind " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()),
                            ec.value()));
  port_ = acceptor.local_endpoint().port();
  asio::co_spawn(state_->executor, accept_loop(state_), asio::detached);
  return {};
}

void Server::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  beast::error_code ec;
  state_->acceptor.close(ec);
  for (const auto& weak : state_->connections) {
    if (auto connection = weak.lock()) connection->shut();
  }
  state_->connections.clear();
  std::vector<std::shared_ptr<Stream>> streams;
  for (auto& stream : state_->streams) streams.push_back(stream.shared_from_this());
  state_->streams.clear();
  for (const auto& stream : streams) stream->close();
}

}  // namespace berth::http
