#pragma once
// A real image registry for fetcher tests: Debian's docker-registry (Docker
// Distribution 2.8) serving 127.0.0.1 on a free port, with its own config and
// filesystem storage in a temporary directory that the destructor removes.
//
// Variants: plain HTTP; HTTPS with a server certificate (SAN IP:127.0.0.1,
// DNS:localhost) from a throwaway CA; htpasswd Basic auth (bcrypt; Distribution
// allows it only over TLS, so it implies HTTPS); Bearer tokens from a
// RegistryTokenServer in the test process. stop() and start() keep port,
// config and storage, so a test can take the registry away in the middle of a
// pull and bring it back. Blobs can be damaged in storage to test digest checks;
// a RegistryFaultProxy (registry_fault_proxy.hpp) in front cuts, fails or slows
// blob downloads.
//
// The daemon's config (config_file()) is what a real deployment would write:
// `http.tls.certificate/key`; `auth.htpasswd.realm/path` (realm
// "berth-test-registry"); `auth.token.realm/service/issuer/rootcertbundle`
// (service "berth-test-registry", see registry_token_server.hpp); a fixed
// `http.secret` so that uploads survive a restart. log() has its access log.
//
//   TestRegistry registry({.auth = RegistryAuth::token});
//   auto reply = registry.get("/v2/busybox/manifests/oci", Caller::anonymous);  // 401 + Bearer challenge

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.hpp"
#include "support/registry_token_server.hpp"

namespace berth::testing {

enum class RegistryTransport { http, https };

enum class RegistryAuth {
  none,
  basic,        // htpasswd, user/password from Options; forces https
  token,        // Bearer tokens; the token server gives one to anybody
  token_login,  // Bearer tokens; the token server wants the Basic credentials first
};

// Who a harness request speaks as.
enum class Caller {
  anonymous,   // no Authorization header
  authorized,  // the test user (Basic) or a token granting pull/push/delete on the target's repository
};

struct RegistryReply {
  int status = 0;  // 0: no HTTP answer at all (refused, TLS failure, cut); see `error`
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string error;  // curl's message when status is 0 or the transfer broke
  std::string header(std::string_view name) const;  // "" when absent
};

class TestRegistry {
 public:
  struct Options {
    RegistryTransport transport = RegistryTransport::http;
    RegistryAuth auth = RegistryAuth::none;
    std::string user = "berth";
    std::string password = "berth-test-password";
    std::chrono::seconds token_lifetime{300};
  };

  TestRegistry();  // plain HTTP, no auth; started
  explicit TestRegistry(Options options);
  ~TestRegistry();
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  // Starts the daemon (no-op when running) and waits until GET /v2/ answers.
  void start();
  // Sends `signal`, SIGKILL after `grace`; returns the exit code.
  int stop(int signal = SIGTERM, std::chrono::milliseconds grace = std::chrono::seconds(5));
  bool running();

  std::string address() const;  // "127.0.0.1:PORT", as an image reference's registry part
  std::uint16_t port() const { return port_; }
  std::string url() const;      // "http://127.0.0.1:PORT" or "https://..."
  const Options& options() const { return options_; }
  RegistryTransport transport() const { return options_.transport; }
  BasicCredentials credentials() const { return {options_.user, options_.password}; }
  // PEM of the CA that signed the server certificate (empty path over http): a client's --registry-ca.
  std::filesystem::path ca_file() const;
  // A directory with only that CA as ca.crt, as skopeo --cert-dir and Docker's certs.d expect.
  std::filesystem::path cert_dir() const;
  std::string log() const;
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path storage_dir() const { return dir_ / "storage"; }
  std::filesystem::path config_file() const { return dir_ / "config.yml"; }
  // The token server with RegistryAuth::token and token_login; null otherwise.
  RegistryTokenServer* token_server() { return token_server_.get(); }

  // The Authorization header value a Caller::authorized request for `repository`
  // sends. Tokens the harness mints itself do not count in tokens_issued().
  std::string authorization(std::string_view repository) const;

  // A request through curl (honours TLS with the test CA). `target` is a path
  // such as "/v2/busybox/manifests/oci"; `headers` are "Name: value" lines.
  RegistryReply request(std::string_view method, std::string_view target, Caller caller = Caller::authorized,
                        const std::vector<std::string>& headers = {}) const;
  RegistryReply get(std::string_view target, Caller caller = Caller::authorized,
                    const std::vector<std::string>& headers = {}) const {
    return request("GET", target, caller, headers);
  }
  // Downloads a blob into `file` (any size); the reply's body stays empty.
  RegistryReply download_blob(std::string_view repository, std::string_view digest,
                              const std::filesystem::path& file) const;

  // skopeo options to push to this registry as the test user.
  std::vector<std::string> skopeo_destination_flags() const;

  // Storage faults: the registry serves the file's bytes under the digest
  // without checking them, so a client sees content that does not match.
  std::filesystem::path blob_data_path(std::string_view digest) const;
  void overwrite_blob(std::string_view digest, std::string_view content) const;
  void corrupt_blob(std::string_view digest) const;  // same size, some bytes flipped
  void remove_blob(std::string_view digest) const;

 private:
  void write_config() const;
  void make_tls_material() const;
  void make_htpasswd() const;
  std::vector<std::string> curl_auth_args(std::string_view target, Caller caller) const;
  RegistryReply request_to_file(std::string_view method, std::string_view target, Caller caller,
                                const std::vector<std::string>& headers, const std::filesystem::path& body_file) const;

  Options options_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<RegistryTokenServer> token_server_;
  Process process_;
};

// The repository a registry API path names: "/v2/a/b/manifests/x" -> "a/b"; "" for others.
std::string repository_of(std::string_view target);

}  // namespace berth::testing
