#pragma once
// A stand-in for the object storage (S3 and the like) that a registry sends
// blob downloads to with a 307: a plain-HTTP server on another loopback
// address (127.0.0.2 by default, so another host to a client) that serves
// GET and HEAD of any ".../blobs/<digest>[?query]" from the file `locate`
// gives for the digest (a TestRegistry's blob_data_path: the bytes the
// registry itself stores), with `Range: bytes=N-` honoured. It records every
// request, and whether it carried an Authorization header, which a client
// must not carry over from the registry.
//
//   BlobStorageServer storage([&](std::string_view d) { return registry.blob_data_path(d); });
//   proxy.redirect_blob_downloads(storage.url());

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "support/socket_server.hpp"

namespace berth::testing {

class BlobStorageServer {
 public:
  using Locate = std::function<std::filesystem::path(std::string_view digest)>;
  struct Request {
    std::string method;
    std::string target;  // as sent, query and all
    std::string digest;  // its last path segment, without the query
    bool authorization = false;
  };

  // Listens on a free port of `host` (an IPv4 address).
  explicit BlobStorageServer(Locate locate, std::string host = "127.0.0.2");
  ~BlobStorageServer();  // closes every connection and joins its threads
  BlobStorageServer(const BlobStorageServer&) = delete;
  BlobStorageServer& operator=(const BlobStorageServer&) = delete;

  std::string address() const;  // "127.0.0.2:PORT"
  std::string url() const { return "http://" + address(); }
  std::vector<Request> requests() const;

 private:
  class Connection;

  void record(Request request);

  Locate locate_;
  std::string host_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::unique_ptr<ThreadPerConnection> server_;  // last: its threads use the members above
};

}  // namespace berth::testing
