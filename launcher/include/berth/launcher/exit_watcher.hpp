#pragma once
// Supervision without a thread per container: one ExitWatcher per event loop
// learns when processes exit, given their pidfds, and resumes the coroutines
// awaiting them in the loop's thread.
//
// Backends, chosen at run time (the best this kernel and sandbox offer):
//   waitid  one io_uring; IORING_OP_WAITID(P_PIDFD, WEXITED|WNOWAIT) per wait
//           (Linux 6.7+). A pidfd of a process that is not our child (the
//           kernel answers ECHILD) or opened PIDFD_NONBLOCK is polled instead.
//   poll    one io_uring; IORING_OP_POLL_ADD(POLLIN) on the pidfd (5.x+).
//   epoll   no io_uring (ENOSYS, or EPERM from a seccomp sandbox or
//           kernel.io_uring_disabled): Asio's reactor waits on a dup of the
//           pidfd, as any descriptor.
// Every backend leaves the process unreaped: the caller still reaps it and
// reads its status (waitid(P_PIDFD, ..., WEXITED)) after wait_exit returns.
//
// The io_uring backends register an eventfd with the ring and wait on it with
// an asio::posix::stream_descriptor, so completions are reaped in the loop.
// An ExitWatcher is used from its executor's (single) thread only, and must be
// destroyed before its io_context. A wait_exit() awaitable must have started
// (been co_awaited) before the watcher is destroyed; once started, it is safe.

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "berth/common/error.hpp"

namespace berth::launcher {

enum class ExitWatchBackend { automatic, waitid, poll, epoll };
std::string_view to_string(ExitWatchBackend backend);

class ExitWatcher {
 public:
  using Backend = ExitWatchBackend;
  using Handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  // `preferred` = automatic picks the best available backend; naming one
  // forces it, and fails (ENOSYS/EOPNOTSUPP) when this host lacks it.
  static Result<std::unique_ptr<ExitWatcher>> create(boost::asio::any_io_executor executor,
                                                     Backend preferred = Backend::automatic);
  // The backends this host offers, best first; epoll is always there.
  static std::vector<Backend> available_backends();

  // Waits still outstanding complete with ECANCELED (posted, never inline).
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Completes once the process behind `pidfd` has exited (at once if it
  // already has). `pidfd` must stay open until then. Errors: ECANCELED after
  // cancel(pidfd), the watcher's destruction or an Asio cancellation signal
  // (e.g. `wait_exit(fd) || timer.async_wait(...)`); else the kernel's errno.
  boost::asio::awaitable<Result<void>> wait_exit(int pidfd);

  // The same for any Asio completion token; the handler gets
  // operation_aborted when cancelled. Honours the token's cancellation slot.
  template <boost::asio::completion_token_for<void(boost::system::error_code)> Token>
  auto async_wait_exit(int pidfd, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, int fd) {
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          start(fd, Handler(std::move(handler)), slot);
        },
        token, pidfd);
  }

  // Cancels every outstanding wait on `pidfd`; returns how many there were.
  std::size_t cancel(int pidfd);

  Backend backend() const;
  // Waits not yet completed.
  std::size_t pending() const;

 private:
  class Core;
  explicit ExitWatcher(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  void start(int pidfd, Handler handler, boost::asio::cancellation_slot slot);

  std::shared_ptr<Core> core_;
};

}  // namespace berth::launcher
