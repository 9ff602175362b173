#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <charconv>

#include "berth/common/http.hpp"

namespace berth::http {
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::redirect_error;
using asio::use_awaitable;

namespace {

constexpr std::size_t kMaxResponseBytes = 256 << 20;

Error net_error(std::string what, const Endpoint& endpoint, const beast::error_code& ec) {
  return Error(what + " " + endpoint.host + ":" + std::to_string(endpoint.port) + ": " + ec.message());
}

asio::awaitable<Result<void>> connect(beast::tcp_stream& stream, const Endpoint& endpoint) {
  tcp::resolver resolver(stream.get_executor());
  beast::error_code ec;
  auto results = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                 redirect_error(use_awaitable, ec));
  if (ec) co_return fail(net_error("resolve", endpoint, ec));
  co_await stream.async_connect(results, redirect_error(use_awaitable, ec));
  if (ec) co_return fail(net_error("connect to", endpoint, ec));
  stream.socket().set_option(tcp::no_delay(true), ec);  // requests are small: no Nagle delay
  co_return Result<void>{};
}

void prepare(Request& request, const Endpoint& endpoint) {
  request.version(11);
  request.set(bhttp::field::host, endpoint.host + ":" + std::to_string(endpoint.port));
  request.set(bhttp::field::user_agent, "berth/" BERTH_VERSION);
  request.keep_alive(false);
  request.prepare_payload();
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port) {
  auto original = text;
  if (text.starts_with("http://")) text.remove_prefix(7);
  text = text.substr(0, text.find('/'));
  Endpoint endpoint{std::string(text), default_port};
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("'" + std::string(original) + "' is not host:port");
    endpoint.host = std::string(text.substr(1, close - 1));
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail("'" + std::string(original) + "' is not host:port");
      port = text.substr(close + 2);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    endpoint.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (endpoint.host.empty()) return fail("'" + std::string(original) + "' has no host: expecting host:port");
  if (endpoint.host.find_first_of(" \t@") != std::string::npos) {
    return fail("'" + std::string(original) + "' is not host:port");
  }
  if (!port.empty() || text.ends_with(':')) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return fail("'" + std::string(original) + "' has an invalid port: expecting 1-65535");
    }
    endpoint.port = static_cast<std::uint16_t>(value);
  }
  return endpoint;
}

Request make_request(Verb verb, std::string target, std::string body, std::string_view content_type) {
  Request request{verb, target, 11};
  if (!content_type.empty()) request.set(bhttp::field::content_type, content_type);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

asio::awaitable<Result<Response>> request(Endpoint endpoint, Request request, std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  BERTH_CO_TRY_VOID(co_await connect(stream, endpoint));
  prepare(request, endpoint);
  beast::error_code write_ec;
  co_await bhttp::async_write(stream, request, redirect_error(use_awaitable, write_ec));
  // A server may answer before reading the whole request (413) and stop
  // reading: its answer is still there to read.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  beast::error_code ec;
  co_await bhttp::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
  if (ec && write_ec) co_return fail(net_error("send to", endpoint, write_ec));
  if (ec) co_return fail(net_error("read from", endpoint, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return parser.release();
}

Result<Response> request_sync(Endpoint endpoint, Request req, std::chrono::milliseconds timeout) {
  asio::io_context io;
  std::optional<Result<Response>> result;
  asio::co_spawn(io, request(std::move(endpoint), std::move(req), timeout),
                 [&](std::exception_ptr e, Result<Response> r) {
                   if (e) {
                     result = fail("request failed with an exception");
                   } else {
                     result = std::move(r);
                   }
                 });
  io.run();
  return result ? std::move(*result) : fail("request did not complete");
}

struct StreamingResponse::Impl {
  beast::tcp_stream stream;
  Endpoint endpoint;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  char chunk[64 << 10];

  explicit Impl(asio::any_io_executor executor) : stream(executor) { parser.body_limit(boost::none); }
};

StreamingResponse::StreamingResponse(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StreamingResponse::~StreamingResponse() = default;

asio::awaitable<Result<std::unique_ptr<StreamingResponse>>> StreamingResponse::open(
    Endpoint endpoint, Request request, std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>(co_await asio::this_coro::executor);
  impl->endpoint = endpoint;
  impl->stream.expires_after(timeout);
  BERTH_CO_TRY_VOID(co_await connect(impl->stream, endpoint));
  prepare(request, endpoint);
  beast::error_code ec;
  co_await bhttp::async_write(impl->stream, request, redirect_error(use_awaitable, ec));
  if (ec) co_return fail(net_error("send to", endpoint, ec));
  co_await bhttp::async_read_header(impl->stream, impl->buffer, impl->parser, redirect_error(use_awaitable, ec));
  if (ec) co_return fail(net_error("read response from", endpoint, ec));
  impl->stream.expires_never();
  co_return std::unique_ptr<StreamingResponse>(new StreamingResponse(std::move(impl)));
}

const beast::http::response_header<>& StreamingResponse::head() const { return impl_->parser.get().base(); }

Status StreamingResponse::status() const { return impl_->parser.get().result(); }

asio::awaitable<Result<std::string>> StreamingResponse::read_some(std::chrono::milliseconds idle_timeout) {
  auto& impl = *impl_;
  while (true) {
    if (impl.parser.is_done()) co_return fail("end of stream");
    impl.parser.get().body().data = impl.chunk;
    impl.parser.get().body().size = sizeof impl.chunk;
    if (idle_timeout.count() > 0) {
      impl.stream.expires_after(idle_timeout);
    } else {
      impl.stream.expires_never();
    }
    beast::error_code ec;
    co_await bhttp::async_read_some(impl.stream, impl.buffer, impl.parser, redirect_error(use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == bhttp::error::end_of_stream) co_return fail("end of stream");
    if (ec == beast::error::timeout) co_return fail("no data from " + impl.endpoint.host + " within the idle timeout");
    if (ec) co_return fail(net_error("read from", impl.endpoint, ec));
    auto received = sizeof impl.chunk - impl.parser.get().body().size;
    if (received > 0) co_return std::string(impl.chunk, received);
  }
}

asio::awaitable<Result<std::string>> StreamingResponse::read_all(std::chrono::milliseconds timeout) {
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return fail("timed out reading the response body");
    auto data = co_await read_some(left);
    if (!data) {
      if (data.error().message() == "end of stream") co_return body;
      co_return fail(std::move(data).error());
    }
    body += *data;
    if (body.size() > kMaxResponseBytes) co_return fail("response body too large");
  }
}

void StreamingResponse::close() {
  beast::error_code ec;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream.socket().close(ec);
}

}  // namespace berth::http
