#pragma once
// The token server of the Docker registry token protocol
// (distribution/docs/spec/auth/token.md), running on a thread of the test
// process so that tests can count what it issued.
//
// A client that gets `401` with `WWW-Authenticate: Bearer realm=R,service=S,scope=X`
// asks `GET R?service=S&scope=X` (with Basic credentials when it has them) and
// receives {"token", "access_token", "expires_in", "issued_at"}. The token is a JWT
// signed RS256 by a throwaway key whose self-signed certificate travels in the
// header's "x5c" and is the registry's `auth.token.rootcertbundle`: Docker
// Distribution 2.8 accepts a token whose x5c chain verifies against that bundle,
// with `iss` = its `issuer`, `aud` = its `service` (a string in 2.8), and
// `nbf`/`exp` within 60 s of leeway. Every scope asked for is granted in full.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "berth/common/http.hpp"

namespace berth::testing {

// One entry of the JWT "access" claim; "repository:busybox:pull,push" parses to
// {"repository", "busybox", {"pull", "push"}}.
struct TokenAccess {
  std::string type;
  std::string name;
  std::vector<std::string> actions;
  static std::optional<TokenAccess> parse_scope(std::string_view scope);
};

struct BasicCredentials {
  std::string user;
  std::string password;
  std::string header() const;  // "Basic <base64(user:password)>"
};

class RegistryTokenServer {
 public:
  struct Options {
    std::filesystem::path dir;  // where the signing key and certificate go
    std::string service = "berth-test-registry";
    std::string issuer = "berth-test-token-issuer";
    // Set: token requests without exactly these Basic credentials get 401.
    std::optional<BasicCredentials> required_login{};
    std::chrono::seconds token_lifetime{300};
  };

  explicit RegistryTokenServer(Options options);  // listens at once on a free loopback port
  ~RegistryTokenServer();
  RegistryTokenServer(const RegistryTokenServer&) = delete;
  RegistryTokenServer& operator=(const RegistryTokenServer&) = delete;

  std::string realm() const;  // "http://127.0.0.1:PORT/token"
  const std::string& service() const { return options_.service; }
  const std::string& issuer() const { return options_.issuer; }
  // PEM certificate of the signing key: the registry's rootcertbundle.
  std::filesystem::path certificate() const;

  // A signed token as the endpoint would issue it (not counted in tokens_issued).
  std::string mint(const std::vector<TokenAccess>& access, std::string_view subject = "") const;
  // The same token, but signed by a key the registry does not trust.
  std::string mint_untrusted(const std::vector<TokenAccess>& access) const;

  int tokens_issued() const { return tokens_issued_; }
  int requests_refused() const { return requests_refused_; }
  // Every scope parameter of every token request, in order.
  std::vector<std::string> scopes_requested() const;
  void reset_counters();

 private:
  std::string sign(const std::filesystem::path& key, const std::string& chain, const std::vector<TokenAccess>& access,
                   std::string_view subject) const;
  boost::asio::awaitable<void> serve(http::Exchange& exchange);

  Options options_;
  std::string signing_chain_;    // base64 DER of the certificate, for x5c
  std::string untrusted_chain_;
  boost::asio::io_context io_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::atomic<int> tokens_issued_{0};
  std::atomic<int> requests_refused_{0};
  mutable std::atomic<int> next_id_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> scopes_;
};

}  // namespace berth::testing
