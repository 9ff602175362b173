#include "support/blob_storage_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>

namespace berth::testing {

namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The value of header `name` (lowercase) in a request head; nullopt when absent.
std::optional<std::string> header_value(std::string_view head, std::string_view name) {
  auto lower = lowercase(head);
  auto at = lower.find("\r\n" + std::string(name) + ":");
  if (at == std::string::npos) return std::nullopt;
  auto start = at + 3 + name.size();
  auto end = head.find("\r\n", start);
  auto value = head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return std::string(value);
}

}  // namespace

// One client connection, served on a thread of its own, keep-alive.
class BlobStorageServer::Connection {
 public:
  Connection(BlobStorageServer& server, int fd) : server_(server), fd_(fd) {
    timeval timeout{2, 0};  // a client that stops reading must not wedge the shutdown
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  }
  ~Connection() { ::close(fd_); }

  void run() {
    std::string pending;
    char buffer[16384];
    while (true) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {server_.server_->wake_fd(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 || fds[1].revents) return;
      auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      pending.append(buffer, static_cast<std::size_t>(n));
      for (auto end = pending.find("\r\n\r\n"); end != std::string::npos; end = pending.find("\r\n\r\n")) {
        auto head = pending.substr(0, end);
        pending.erase(0, end + 4);
        if (!serve(head)) return;
      }
    }
  }

 private:
  // Answers one request; false once the connection is to end.
  bool serve(std::string_view head) {
    auto line = head.substr(0, head.find("\r\n"));
    auto first = line.find(' ');
    auto last = line.rfind(' ');
    if (first == std::string_view::npos || last <= first) return false;
    Request request{.method = std::string(line.substr(0, first)),
                    .target = std::string(line.substr(first + 1, last - first - 1)),
                    .digest = {},
                    .authorization = header_value(head, "authorization").has_value()};
    auto path = std::string_view(request.target).substr(0, request.target.find('?'));
    if (auto slash = path.rfind("/blobs/"); slash != std::string_view::npos) {
      request.digest = std::string(path.substr(slash + 7));
    }
    server_.record(request);
    bool head_only = request.method == "HEAD";
    if ((!head_only && request.method != "GET") || request.digest.empty()) return respond(404, 0, 0, 0, {});
    std::filesystem::path file;
    try {
      file = server_.locate_(request.digest);
    } catch (const std::exception&) {  // not a digest it knows how to look up
      return respond(404, 0, 0, 0, {});
    }
    std::error_code error;
    auto size = std::filesystem::file_size(file, error);
    if (error) return respond(404, 0, 0, 0, {});
    std::uint64_t from = 0;
    if (auto range = header_value(head, "range"); range && range->starts_with("bytes=")) {
      auto digits = std::string_view(*range).substr(6);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), from).ec != std::errc{} || from >= size) return respond(416, 0, 0, size, {});
      return respond(206, from, size - from, size, head_only ? std::filesystem::path{} : file);
    }
    return respond(200, 0, size, size, head_only ? std::filesystem::path{} : file);
  }

  // Sends the status and headers, then `length` bytes of `file` from `from` (none without a file).
  bool respond(int status, std::uint64_t from, std::uint64_t length, std::uint64_t total,
               const std::filesystem::path& file) {
    std::string reply = "HTTP/1.1 " + std::to_string(status) + (status < 300 ? " OK" : " Error") + "\r\n";
    reply += "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(length) + "\r\n";
    if (status == 206) {
      reply += "Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(from + length - 1) + "/" +
               std::to_string(total) + "\r\n";
    }
    if (!send_all(fd_, reply + "\r\n")) return false;
    if (file.empty()) return true;
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(from));
    char buffer[65536];
    while (length > 0 && in) {
      in.read(buffer, static_cast<std::streamsize>(std::min<std::uint64_t>(length, sizeof buffer)));
      auto got = static_cast<std::size_t>(in.gcount());
      if (got == 0 || !send_all(fd_, {buffer, got})) return false;
      length -= got;
    }
    return length == 0;
  }

  BlobStorageServer& server_;
  int fd_;
};

BlobStorageServer::BlobStorageServer(Locate locate, std::string host)
    : locate_(std::move(locate)), host_(std::move(host)) {
  int listener = listen_tcp(host_, port_, "blob storage");
  server_ = std::make_unique<ThreadPerConnection>(listener, [this](int fd) { Connection(*this, fd).run(); });
}

BlobStorageServer::~BlobStorageServer() = default;

std::string BlobStorageServer::address() const { return host_ + ":" + std::to_string(port_); }

std::vector<BlobStorageServer::Request> BlobStorageServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void BlobStorageServer::record(Request request) {
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(request));
}

}  // namespace berth::testing
