#include "support/registry_token_server.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <ctime>
#include <stdexcept>

#include "support/registry_shell.hpp"

namespace berth::testing {
namespace fs = std::filesystem;
namespace json = boost::json;

std::optional<TokenAccess> TokenAccess::parse_scope(std::string_view scope) {
  // The name may hold ':' only in theory (a registry host with a port); type and
  // actions never do, so split at the first and the last colon.
  auto first = scope.find(':');
  auto last = scope.rfind(':');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  TokenAccess access{std::string(scope.substr(0, first)), std::string(scope.substr(first + 1, last - first - 1)), {}};
  auto actions = scope.substr(last + 1);
  while (!actions.empty()) {
    auto comma = actions.find(',');
    if (comma != 0) access.actions.emplace_back(actions.substr(0, comma));
    if (comma == std::string_view::npos) break;
    actions.remove_prefix(comma + 1);
  }
  return access;
}

std::string BasicCredentials::header() const { return "Basic " + base64(user + ":" + password); }

namespace {

// A self-signed RSA key and certificate; RS256 because `openssl dgst -sign`
// yields the PKCS#1 v1.5 signature JWS wants as is (ES256 would need the DER
// signature re-encoded).
std::string make_signing_key(const fs::path& key, const fs::path& cert, const std::string& subject) {
  run_tool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.string(), "-out", cert.string(),
            "-days", "3", "-subj", "/CN=" + subject});
  return base64(run_tool({"openssl", "x509", "-in", cert.string(), "-outform", "DER"}));
}

std::vector<std::string> query_values(std::string_view target, std::string_view key) {
  std::vector<std::string> values;
  auto question = target.find('?');
  if (question == std::string_view::npos) return values;
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == key && eq != std::string_view::npos) {
      values.push_back(percent_decode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return values;
}

std::string rfc3339(std::time_t when) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

RegistryTokenServer::RegistryTokenServer(Options options) : options_(std::move(options)) {
  fs::create_directories(options_.dir);
  signing_chain_ = make_signing_key(options_.dir / "token-signer.key", certificate(), "berth-test-token-signer");
  untrusted_chain_ = make_signing_key(options_.dir / "untrusted-signer.key", options_.dir / "untrusted-signer.crt",
                                      "berth-test-token-signer");
  server_ = std::make_unique<http::Server>(io_.get_executor(), http::Server::Options{});
  server_->route("/token", http::only(http::Verb::get, [this](http::Exchange& exchange) { return serve(exchange); }));
  if (auto listening = server_->listen(); !listening) {
    throw std::runtime_error("registry harness: token server: " + listening.error().what());
  }
  thread_ = std::thread([this] { io_.run(); });
}

RegistryTokenServer::~RegistryTokenServer() {
  boost::asio::post(io_, [this] {
    server_->stop();
    io_.stop();
  });
  thread_.join();
  server_.reset();
}

std::string RegistryTokenServer::realm() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/token"; }

fs::path RegistryTokenServer::certificate() const { return options_.dir / "token-signer.crt"; }

std::vector<std::string> RegistryTokenServer::scopes_requested() const {
  std::lock_guard lock(mutex_);
  return scopes_;
}

void RegistryTokenServer::reset_counters() {
  tokens_issued_ = 0;
  requests_refused_ = 0;
  std::lock_guard lock(mutex_);
  scopes_.clear();
}

std::string RegistryTokenServer::mint(const std::vector<TokenAccess>& access, std::string_view subject) const {
  return sign(options_.dir / "token-signer.key", signing_chain_, access, subject);
}

std::string RegistryTokenServer::mint_untrusted(const std::vector<TokenAccess>& access) const {
  return sign(options_.dir / "untrusted-signer.key", untrusted_chain_, access, "");
}

std::string RegistryTokenServer::sign(const fs::path& key, const std::string& chain,
                                      const std::vector<TokenAccess>& access, std::string_view subject) const {
  json::array grants;
  for (const auto& entry : access) {
    json::array actions;
    for (const auto& action : entry.actions) actions.emplace_back(action);
    grants.push_back(json::object{{"type", entry.type}, {"name", entry.name}, {"actions", std::move(actions)}});
  }
  auto now = std::time(nullptr);
  auto id = next_id_++;
  json::object header{{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", json::array{json::string(chain)}}};
  json::object claims{{"iss", options_.issuer},
                      {"sub", subject},
                      {"aud", options_.service},
                      {"exp", now + options_.token_lifetime.count()},
                      {"nbf", now - 10},
                      {"iat", now},
                      {"jti", "berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(id)},
                      {"access", std::move(grants)}};
  auto signing_input = base64url(json::serialize(header)) + "." + base64url(json::serialize(claims));
  auto input_file = options_.dir / ("jws-" + std::to_string(id));
  write_bytes(input_file, signing_input);
  auto signature = run_tool({"openssl", "dgst", "-sha256", "-binary", "-sign", key.string(), input_file.string()});
  fs::remove(input_file);
  return signing_input + "." + base64url(signature);
}

boost::asio::awaitable<void> RegistryTokenServer::serve(http::Exchange& exchange) {
  const auto& request = exchange.request();
  auto scopes = query_values(request.target(), "scope");
  {
    std::lock_guard lock(mutex_);
    scopes_.insert(scopes_.end(), scopes.begin(), scopes.end());
  }
  auto authorization = std::string(request[boost::beast::http::field::authorization]);
  std::string subject;
  if (options_.required_login) {
    if (authorization != options_.required_login->header()) {
      ++requests_refused_;
      auto refusal = http::error_response(http::Status::unauthorized, "token server: credentials required");
      refusal.set(boost::beast::http::field::www_authenticate, "Basic realm=\"berth-test-token-server\"");
      co_await exchange.respond(std::move(refusal));
      co_return;
    }
    subject = options_.required_login->user;
  }
  auto services = query_values(request.target(), "service");
  if (services.empty() || services.front() != options_.service) {
    ++requests_refused_;
    co_await exchange.respond(http::error_response(http::Status::bad_request, "token server: unknown service"));
    co_return;
  }
  std::vector<TokenAccess> access;
  for (const auto& parameter : scopes) {
    // A client may put several scopes in one parameter, separated by spaces.
    std::string_view rest = parameter;
    while (!rest.empty()) {
      auto space = rest.find(' ');
      if (auto parsed = TokenAccess::parse_scope(rest.substr(0, space))) access.push_back(std::move(*parsed));
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
  }
  auto token = mint(access, subject);
  ++tokens_issued_;
  json::object body{{"token", token},
                    {"access_token", token},
                    {"expires_in", options_.token_lifetime.count()},
                    {"issued_at", rfc3339(std::time(nullptr))}};
  co_await exchange.respond(http::make_response(http::Status::ok, json::serialize(body), "application/json"));
}

}  // namespace berth::testing
