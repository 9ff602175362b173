#include "support/registry_fault_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <string_view>

namespace berth::testing {

namespace {

std::string reason(int status) {
  switch (status) {
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Injected Fault";
  }
}

// Whether a request head (request line and headers) has an Authorization header.
bool has_authorization(std::string_view head) {
  std::string lower(head);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("\r\nauthorization:") != std::string::npos;
}

}  // namespace

// One client connection and its upstream twin, relayed on a thread of its own.
class RegistryFaultProxy::Relay {
 public:
  Relay(RegistryFaultProxy& proxy, int client, int upstream) : proxy_(proxy), client_(client), upstream_(upstream) {
    timeval timeout{2, 0};  // a client that stops reading must not wedge the proxy's shutdown
    ::setsockopt(client_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  }
  ~Relay() {
    ::close(client_);
    ::close(upstream_);
  }

  void run() {
    char buffer[16384];
    while (true) {
      pollfd fds[3] = {{client_, POLLIN, 0}, {upstream_, POLLIN, 0}, {proxy_.server_->wake_fd(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) return;
      if (fds[2].revents) return;
      if (fds[0].revents) {
        auto n = ::recv(client_, buffer, sizeof buffer, 0);
        if (n <= 0 || !from_client({buffer, static_cast<std::size_t>(n)})) return;
      }
      if (fds[1].revents) {
        auto n = ::recv(upstream_, buffer, sizeof buffer, 0);
        if (n <= 0 || !from_upstream({buffer, static_cast<std::size_t>(n)})) return;
      }
    }
  }

 private:
  // Returns false once the connection is to end.
  bool from_client(std::string_view data) {
    head_.append(data);
    while (true) {
      auto end = head_.find("\r\n\r\n");
      if (end == std::string::npos) break;
      bool go_on = request_started(std::string_view(head_).substr(0, end));
      head_.erase(0, end + 4);
      if (!go_on) return false;
    }
    // Request bodies (blob uploads) pass through here too; keep only a tail.
    if (head_.size() > 65536) head_.erase(0, head_.size() - 4);
    return send_all(upstream_, data);
  }

  // `head` is the request line and headers, without the blank line ending them.
  bool request_started(std::string_view head) {
    armed_ = {};
    auto request_line = head.substr(0, head.find("\r\n"));
    if (!request_line.starts_with("GET /v2/") || request_line.find("/blobs/") == std::string_view::npos) return true;
    ++proxy_.blob_downloads_;
    armed_ = proxy_.take_fault();
    header_.clear();
    header_done_ = false;
    body_seen_ = 0;
    if (armed_.fault == Fault::none) {
      if (auto base = proxy_.redirect_base(); !base.empty()) return redirect(base, request_line, head);
    }
    if (armed_.fault != Fault::status) return true;
    ++proxy_.faults_injected_;
    send_all(client_, "HTTP/1.1 " + std::to_string(armed_.status) + " " + reason(armed_.status) +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return false;
  }

  // Answers the blob GET with a 307 to the storage; the registry never sees it.
  bool redirect(const std::string& base, std::string_view request_line, std::string_view head) {
    auto target = request_line.substr(4, request_line.rfind(' ') - 4);
    ++proxy_.redirects_;
    if (has_authorization(head)) ++proxy_.redirected_with_authorization_;
    send_all(client_, "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + base + std::string(target) +
                          "?X-Amz-Expires=300&X-Amz-Signature=berth-test\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n");
    return false;
  }

  bool from_upstream(std::string_view data) {
    if (armed_.fault != Fault::cut) return send_paced(data);
    std::size_t header_bytes = 0;
    if (!header_done_) {
      auto before = header_.size();
      header_.append(data);
      auto end = header_.find("\r\n\r\n");
      if (end == std::string::npos) return send_paced(data);
      header_done_ = true;
      header_bytes = end + 4 - before;
    }
    auto body = data.size() - header_bytes;
    if (body_seen_ + body <= armed_.cut_after) {
      body_seen_ += body;
      return send_paced(data);
    }
    send_paced(data.substr(0, header_bytes + (armed_.cut_after - body_seen_)));
    ++proxy_.faults_injected_;
    ::shutdown(client_, SHUT_RDWR);
    return false;
  }

  // Keeps the bytes sent so far at or under the rate since the first of them.
  bool send_paced(std::string_view data) {
    if (!send_all(client_, data)) return false;
    auto rate = proxy_.rate_.load();
    if (rate == 0 || data.empty()) return true;
    auto now = std::chrono::steady_clock::now();
    if (paced_bytes_ == 0) pace_start_ = now;
    paced_bytes_ += data.size();
    auto due = pace_start_ + std::chrono::microseconds(paced_bytes_ * 1'000'000 / rate);
    if (due <= now) return true;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - now);
    pollfd wake{proxy_.server_->wake_fd(), POLLIN, 0};
    return ::poll(&wake, 1, static_cast<int>(wait.count())) == 0;
  }

  RegistryFaultProxy& proxy_;
  int client_;
  int upstream_;
  std::string head_;
  Armed armed_;
  std::string header_;
  bool header_done_ = false;
  std::uint64_t body_seen_ = 0;
  std::uint64_t paced_bytes_ = 0;
  std::chrono::steady_clock::time_point pace_start_;
};

RegistryFaultProxy::RegistryFaultProxy(std::uint16_t upstream_port) : upstream_port_(upstream_port) {
  int listener = listen_tcp("127.0.0.1", port_, "fault proxy");
  server_ = std::make_unique<ThreadPerConnection>(listener, [this](int client) { relay(client); });
}

RegistryFaultProxy::~RegistryFaultProxy() = default;

std::string RegistryFaultProxy::address() const { return "127.0.0.1:" + std::to_string(port_); }

void RegistryFaultProxy::relay(int client) {
  ++connections_;
  int upstream = connect_loopback(upstream_port_);
  if (upstream < 0) {  // the registry is down: so is the proxy, as far as the client can tell
    ::close(client);
    return;
  }
  Relay(*this, client, upstream).run();
}

RegistryFaultProxy::Armed RegistryFaultProxy::take_fault() {
  std::lock_guard lock(mutex_);
  if (fault_ == Fault::none || fault_times_ == 0) return {};
  --fault_times_;
  return {fault_, cut_after_, status_};
}

void RegistryFaultProxy::cut_blob_downloads(std::uint64_t body_bytes, int times) {
  std::lock_guard lock(mutex_);
  fault_ = Fault::cut;
  cut_after_ = body_bytes;
  fault_times_ = times;
}

void RegistryFaultProxy::fail_blob_downloads(int status, int times) {
  std::lock_guard lock(mutex_);
  fault_ = Fault::status;
  status_ = status;
  fault_times_ = times;
}

void RegistryFaultProxy::redirect_blob_downloads(std::string base_url) {
  std::lock_guard lock(mutex_);
  redirect_base_ = std::move(base_url);
}

std::string RegistryFaultProxy::redirect_base() {
  std::lock_guard lock(mutex_);
  return redirect_base_;
}

void RegistryFaultProxy::clear_faults() {
  std::lock_guard lock(mutex_);
  fault_ = Fault::none;
  fault_times_ = 0;
  redirect_base_.clear();
}

}  // namespace berth::testing
