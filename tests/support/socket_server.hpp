#pragma once
// Plain TCP servers for the test harness's stand-ins (the fault proxy, the
// blob storage): a listening socket whose every connection is served on a
// thread of its own, and the few socket calls they share.

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace berth::testing {

// Listens on a free port of `host` (an IPv4 address); throws naming `who`.
int listen_tcp(const std::string& host, std::uint16_t& port, std::string_view who);
// -1 when nothing listens there.
int connect_loopback(std::uint16_t port);
bool send_all(int fd, std::string_view data);

class ThreadPerConnection {
 public:
  // Serves each accepted connection with `serve(fd)` on a new thread; the
  // handler owns the fd. `listener` is adopted.
  ThreadPerConnection(int listener, std::function<void(int fd)> serve);
  // Wakes every handler (wake_fd() turns readable), joins them, closes.
  ~ThreadPerConnection();
  ThreadPerConnection(const ThreadPerConnection&) = delete;
  ThreadPerConnection& operator=(const ThreadPerConnection&) = delete;

  // An eventfd, readable once the server shuts down: handlers poll it
  // beside their sockets.
  int wake_fd() const { return wake_; }

 private:
  void accept_loop();

  int listener_;
  int wake_;
  std::function<void(int)> serve_;
  std::mutex mutex_;
  std::list<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace berth::testing
