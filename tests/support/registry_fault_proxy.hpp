#pragma once
// A TCP relay in front of a plain-HTTP TestRegistry that breaks blob downloads
// on request: it cuts the connection after N bytes of a blob's body, or answers
// a blob GET with an error status itself, or slows every response down. Point
// the client at proxy.address() instead of registry.address().
//
// It can also send blob downloads elsewhere, as registries backed by object
// storage do: every blob GET gets a 307 to another host (a BlobStorageServer,
// blob_storage_server.hpp), and the proxy counts how many of those requests
// carried an Authorization header, which a client sends to the registry but
// must not carry over to the storage.
//
// It recognises a blob download by its request line ("GET /v2/<name>/blobs/...")
// and relies on the client not pipelining requests (no registry client does),
// so everything the registry sends after that line belongs to that download.
// Over TLS it can only relay: it never sees the request line.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "support/socket_server.hpp"

namespace berth::testing {

class RegistryFaultProxy {
 public:
  // Listens on a free 127.0.0.1 port; every connection goes on to 127.0.0.1:upstream_port.
  explicit RegistryFaultProxy(std::uint16_t upstream_port);
  ~RegistryFaultProxy();  // closes every connection and joins its threads
  RegistryFaultProxy(const RegistryFaultProxy&) = delete;
  RegistryFaultProxy& operator=(const RegistryFaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"

  // The next `times` blob downloads end after `body_bytes` bytes of body: the proxy closes the connection.
  void cut_blob_downloads(std::uint64_t body_bytes, int times = 1);
  // The next `times` blob downloads get `status` (e.g. 503) from the proxy, with Connection: close.
  void fail_blob_downloads(int status, int times = 1);
  // Every response flows at about this rate (0: as fast as possible).
  void limit_rate(std::uint64_t bytes_per_second) { rate_ = bytes_per_second; }
  // Every blob download gets 307 to `base_url` + its own path + a signed-URL
  // style query, with Connection: close (e.g. "http://127.0.0.2:PORT").
  // Faults armed above take precedence; clear_faults() ends redirecting too.
  void redirect_blob_downloads(std::string base_url);
  void clear_faults();

  int blob_downloads_seen() const { return blob_downloads_; }
  int faults_injected() const { return faults_injected_; }
  int connections_accepted() const { return connections_; }
  int redirects_sent() const { return redirects_; }
  int redirected_with_authorization() const { return redirected_with_authorization_; }

 private:
  enum class Fault { none, cut, status };
  struct Armed {
    Fault fault = Fault::none;
    std::uint64_t cut_after = 0;
    int status = 0;
  };
  class Relay;

  void relay(int client);  // serves one accepted connection
  Armed take_fault();  // for a blob download that just started
  std::string redirect_base();  // "" when not redirecting

  std::uint16_t upstream_port_;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  Fault fault_ = Fault::none;
  std::uint64_t cut_after_ = 0;
  int status_ = 0;
  int fault_times_ = 0;
  std::string redirect_base_;
  std::atomic<std::uint64_t> rate_{0};
  std::atomic<int> blob_downloads_{0};
  std::atomic<int> faults_injected_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> redirects_{0};
  std::atomic<int> redirected_with_authorization_{0};
  std::unique_ptr<ThreadPerConnection> server_;  // last: its threads use the members above
};

}  // namespace berth::testing
