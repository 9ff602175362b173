#include "berth/launcher/exit_watcher.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "berth/common/fd.hpp"

namespace berth::launcher {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// liburing 2.3 (Debian 12) predates IORING_OP_WAITID, so it is spelled out
// here from the kernel uapi (Linux 6.7, include/uapi/linux/io_uring.h,
// enum io_uring_op: ... IORING_OP_SEND_ZC = 47, IORING_OP_SENDMSG_ZC = 48,
// IORING_OP_READ_MULTISHOT = 49, IORING_OP_WAITID = 50). Field use per io_uring/waitid.c io_waitid_prep():
// sqe->len = idtype, sqe->fd = id, sqe->file_index = options, sqe->addr2 =
// infop (NULL: nothing copied out), and addr, buf_index, addr3 and
// waitid_flags (the op-flags word) must be 0. liburing 2.5's
// io_uring_prep_waitid() fills the same fields.
constexpr std::uint8_t kOpWaitid = 50;
static_assert(IORING_OP_SENDMSG_ZC == 48, "the io_uring_op numbering this relies on");
#ifdef P_PIDFD
constexpr unsigned kIdPidfd = P_PIDFD;
#else
constexpr unsigned kIdPidfd = 3;  // include/uapi/linux/wait.h
#endif
// kernel_waitid_prepare() accepts WNOWAIT (it takes the same option set as
// waitid(2)), so the process stays a zombie for its owner to reap. __WALL
// also matches children whose exit signal is not SIGCHLD.
constexpr int kWaitidOptions = WEXITED | WNOWAIT | __WALL;

// user_data of cancel requests, whose completions are ignored.
constexpr std::uint64_t kNoWaiter = 0;
constexpr unsigned kSubmissionEntries = 256;
constexpr unsigned kCompletionEntries = 4096;

// io_uring_setup errors meaning "no io_uring here", not "something broke":
// not built in, forbidden by seccomp or kernel.io_uring_disabled, or (before
// Linux 5.12) RLIMIT_MEMLOCK too small for the rings.
bool means_no_uring(int err) { return err == ENOSYS || err == EPERM || err == EACCES || err == ENOMEM; }

struct Probe {
  bool waitid = false;
  bool poll = false;
};

Probe probe_ring(io_uring& ring) {
  Probe found;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) return found;
  found.waitid = io_uring_opcode_supported(probe, kOpWaitid) != 0;
  found.poll = io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) != 0;
  io_uring_free_probe(probe);
  return found;
}

// 0 or the errno of io_uring_setup.
int open_ring(io_uring& ring) {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = kCompletionEntries;
  int rc = io_uring_queue_init_params(kSubmissionEntries, &ring, &params);
  if (rc == -EINVAL) rc = io_uring_queue_init(kSubmissionEntries, &ring, 0);  // pre-5.5: no CQSIZE
  return rc < 0 ? -rc : 0;
}

// On a PIDFD_NONBLOCK pidfd the kernel turns waitid into WNOHANG, and with
// io_uring (unlike waitid(2), which then fails EAGAIN) a live child completes
// the request with 0, indistinguishable from an exit: such pidfds are polled.
bool blocking_pidfd(int pidfd) {
  int flags = ::fcntl(pidfd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

void prep_waitid(io_uring_sqe* sqe, int pidfd) {
  io_uring_prep_rw(kOpWaitid, sqe, pidfd, nullptr, kIdPidfd, 0);
  sqe->file_index = kWaitidOptions;
  sqe->addr2 = 0;
}

}  // namespace

std::string_view to_string(ExitWatchBackend backend) {
  switch (backend) {
    case ExitWatchBackend::automatic: return "automatic";
    case ExitWatchBackend::waitid: return "waitid";
    case ExitWatchBackend::poll: return "poll";
    case ExitWatchBackend::epoll: return "epoll";
  }
  return "unknown";
}

class ExitWatcher::Core : public std::enable_shared_from_this<Core> {
 public:
  explicit Core(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  ~Core() { close_ring(); }

  Result<void> open(Backend preferred);
  Backend backend() const { return backend_; }
  std::size_t pending() const { return waiters_.size(); }
  void start(int pidfd, Handler handler, asio::cancellation_slot slot);
  std::size_t cancel(int pidfd);
  void cancel_token(std::uint64_t token);
  void shutdown();

 private:
  // Built in place and never assigned: Boost 1.81's any_completion_handler
  // move assignment re-wraps the handler in itself (fixed in 1.82).
  struct Waiter {
    Waiter(int fd, Handler&& h) : pidfd(fd), handler(std::move(h)) {}
    int pidfd = -1;
    Handler handler;
    asio::cancellation_slot slot;
    asio::any_io_executor work;  // keeps the loop running while the wait is pending
    bool polling = false;        // waitid backend: this one uses POLL_ADD
    std::unique_ptr<asio::posix::stream_descriptor> descriptor;  // epoll backend
  };

  bool uses_ring() const { return backend_ == Backend::waitid || backend_ == Backend::poll; }
  Result<void> open_eventfd();
  void close_ring();
  void finish(std::uint64_t token, error_code ec);
  void complete(Waiter& waiter, error_code ec);

  io_uring_sqe* next_sqe();
  void queue_wait(std::uint64_t token, int pidfd, bool use_waitid);
  void flush();
  void arm();
  void on_eventfd(error_code ec);
  void reap();
  void on_completion(std::uint64_t token, int res);

  void start_epoll(std::uint64_t token, Waiter& waiter);
  void on_readable(std::uint64_t token, error_code ec);

  asio::any_io_executor executor_;
  Backend backend_ = Backend::epoll;
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  std::uint64_t next_token_ = kNoWaiter + 1;
  bool closed_ = false;

  io_uring ring_{};
  bool ring_open_ = false;
  bool flush_posted_ = false;
  bool armed_ = false;
  std::uint64_t eventfd_count_ = 0;
  std::unique_ptr<asio::posix::stream_descriptor> eventfd_;
};

Result<void> ExitWatcher::Core::open(Backend preferred) {
  if (preferred == Backend::epoll) {
    backend_ = Backend::epoll;
    return {};
  }
  if (int err = open_ring(ring_); err != 0) {
    if (preferred == Backend::automatic && means_no_uring(err)) {
      backend_ = Backend::epoll;
      return {};
    }
    return fail(Error::sys("io_uring_queue_init", err, {}));
  }
  ring_open_ = true;
  Probe probe = probe_ring(ring_);
  if (preferred == Backend::waitid && !probe.waitid) {
    return fail(Error("io_uring has no IORING_OP_WAITID (needs Linux 6.7)", EOPNOTSUPP));
  }
  if (preferred == Backend::poll && !probe.poll) return fail(Error("io_uring has no IORING_OP_POLL_ADD", EOPNOTSUPP));
  backend_ = preferred != Backend::automatic ? preferred
             : probe.waitid                  ? Backend::waitid
             : probe.poll                    ? Backend::poll
                                             : Backend::epoll;
  if (!uses_ring()) {
    close_ring();
    return {};
  }
  return open_eventfd();
}

Result<void> ExitWatcher::Core::open_eventfd() {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return fail_sys("eventfd");
  if (int rc = io_uring_register_eventfd(&ring_, efd.get()); rc < 0) {
    return fail(Error::sys("io_uring_register_eventfd", -rc, {}));
  }
  eventfd_ = std::make_unique<asio::posix::stream_descriptor>(executor_);
  error_code ec;
  eventfd_->assign(efd.get(), ec);
  if (ec) return fail(Error("watch the io_uring eventfd", ec.value()));
  efd.release();
  return {};
}

void ExitWatcher::Core::close_ring() {
  if (!ring_open_) return;
  ring_open_ = false;
  // Closing the ring cancels whatever is still in flight; no request points
  // into our memory (waitid's infop is NULL), so nothing outlives us.
  io_uring_queue_exit(&ring_);
}

void ExitWatcher::Core::start(int pidfd, Handler handler, asio::cancellation_slot slot) {
  const std::uint64_t token = next_token_++;
  Waiter& waiter = waiters_.try_emplace(token, pidfd, std::move(handler)).first->second;
  waiter.work = asio::prefer(executor_, asio::execution::outstanding_work.tracked);
  if (slot.is_connected()) {
    waiter.slot = slot;
    // Posted: the signal may come from another thread, and the slot's
    // handler must not clear itself while it runs.
    slot.assign([weak = weak_from_this(), executor = executor_, token](asio::cancellation_type) {
      asio::post(executor, [weak, token] {
        if (auto core = weak.lock()) core->cancel_token(token);
      });
    });
  }
  if (closed_) return finish(token, asio::error::operation_aborted);
  if (pidfd < 0) return finish(token, error_code(EBADF, boost::system::system_category()));
  if (!uses_ring()) return start_epoll(token, waiter);
  waiter.polling = backend_ == Backend::poll || !blocking_pidfd(pidfd);
  queue_wait(token, pidfd, !waiter.polling);
  arm();
}

void ExitWatcher::Core::complete(Waiter& waiter, error_code ec) {
  if (waiter.slot.is_connected()) waiter.slot.clear();
  // Posted, never called here: the resumed coroutine may destroy the watcher.
  // (The handler still runs on its own associated executor.)
  asio::post(executor_, asio::append(std::move(waiter.handler), ec));
}

void ExitWatcher::Core::finish(std::uint64_t token, error_code ec) {
  auto node = waiters_.extract(token);
  if (node.empty()) return;
  complete(node.mapped(), ec);
  // The eventfd read is the loop's last work once no wait is left: stop it
  // so io_context::run() can return.
  if (waiters_.empty() && armed_ && eventfd_) eventfd_->cancel();
}

std::size_t ExitWatcher::Core::cancel(int pidfd) {
  std::vector<std::uint64_t> tokens;
  for (const auto& [token, waiter] : waiters_) {
    if (waiter.pidfd == pidfd) tokens.push_back(token);
  }
  for (auto token : tokens) cancel_token(token);
  return tokens.size();
}

void ExitWatcher::Core::cancel_token(std::uint64_t token) {
  if (!waiters_.contains(token)) return;
  if (uses_ring() && ring_open_) {
    // Its completion (-ECANCELED, or the exit if that won the race) finds no
    // waiter under the token any more and is dropped.
    if (io_uring_sqe* sqe = next_sqe()) {
      io_uring_prep_cancel64(sqe, token, 0);
      io_uring_sqe_set_data64(sqe, kNoWaiter);
      flush();
    }
  }
  finish(token, asio::error::operation_aborted);  // epoll: destroying the descriptor cancels its wait
}

void ExitWatcher::Core::shutdown() {
  closed_ = true;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [token, waiter] : waiters) complete(waiter, asio::error::operation_aborted);
  waiters.clear();
  close_ring();
  if (eventfd_) eventfd_->close();  // its pending read completes, aborted, and drops its hold on us
}

// io_uring backends ---------------------------------------------------------

io_uring_sqe* ExitWatcher::Core::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);  // the queue is full: hand it over and retry
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void ExitWatcher::Core::queue_wait(std::uint64_t token, int pidfd, bool use_waitid) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return finish(token, error_code(EBUSY, boost::system::system_category()));
  if (use_waitid) {
    prep_waitid(sqe, pidfd);
  } else {
    io_uring_prep_poll_add(sqe, pidfd, POLLIN);
  }
  io_uring_sqe_set_data64(sqe, token);
  // One io_uring_enter for every wait started in this turn of the loop.
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(executor_, [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }
}

void ExitWatcher::Core::flush() {
  if (!ring_open_) return;
  int rc = io_uring_submit(&ring_);
  if (rc >= 0) return;
  // Nothing was queued: fail the waits whose requests did not make it in.
  error_code ec(-rc, boost::system::system_category());
  std::vector<std::uint64_t> tokens;
  for (const auto& [token, waiter] : waiters_) tokens.push_back(token);
  for (auto token : tokens) finish(token, ec);
}

void ExitWatcher::Core::arm() {
  if (armed_ || closed_ || waiters_.empty() || !eventfd_) return;
  armed_ = true;
  // A read, not a readiness wait: it tries the eventfd at once, so a
  // completion posted while nothing was armed is not missed.
  eventfd_->async_read_some(asio::buffer(&eventfd_count_, sizeof eventfd_count_),
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_eventfd(ec); });
}

void ExitWatcher::Core::on_eventfd(error_code ec) {
  armed_ = false;
  if (closed_) return;
  if (ec && ec != asio::error::operation_aborted) {
    std::vector<std::uint64_t> tokens;
    for (const auto& [token, waiter] : waiters_) tokens.push_back(token);
    for (auto token : tokens) finish(token, ec);
    return;
  }
  reap();
  arm();
}

void ExitWatcher::Core::reap() {
  io_uring_cqe* cqe = nullptr;
  // peek also flushes completions the kernel held back when the CQ was full.
  while (ring_open_ && io_uring_peek_cqe(&ring_, &cqe) == 0) {
    const std::uint64_t token = cqe->user_data;
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    on_completion(token, res);
  }
}

void ExitWatcher::Core::on_completion(std::uint64_t token, int res) {
  auto it = waiters_.find(token);
  if (token == kNoWaiter || it == waiters_.end()) return;
  Waiter& waiter = it->second;
  if (res >= 0) return finish(token, {});
  // waitid only sees our own children; any process's pidfd still polls.
  if (!waiter.polling && res == -ECHILD) {
    waiter.polling = true;
    return queue_wait(token, waiter.pidfd, false);
  }
  finish(token, error_code(-res, boost::system::system_category()));
}

// epoll backend ---------------------------------------------------------------

void ExitWatcher::Core::start_epoll(std::uint64_t token, Waiter& waiter) {
  // A dup, because the descriptor object closes what it owns.
  UniqueFd dup(::fcntl(waiter.pidfd, F_DUPFD_CLOEXEC, 0));
  if (!dup) return finish(token, error_code(errno, boost::system::system_category()));
  waiter.descriptor = std::make_unique<asio::posix::stream_descriptor>(executor_);
  error_code ec;
  waiter.descriptor->assign(dup.get(), ec);
  if (ec) return finish(token, ec);
  dup.release();
  waiter.descriptor->async_wait(asio::posix::descriptor_base::wait_read,
                                [weak = weak_from_this(), token](error_code result) {
                                  if (auto core = weak.lock()) core->on_readable(token, result);
                                });
}

void ExitWatcher::Core::on_readable(std::uint64_t token, error_code ec) {
  if (ec == asio::error::operation_aborted) return;  // cancelled: already finished
  finish(token, ec);
}

// ExitWatcher -----------------------------------------------------------------

Result<std::unique_ptr<ExitWatcher>> ExitWatcher::create(asio::any_io_executor executor, Backend preferred) {
  auto core = std::make_shared<Core>(std::move(executor));
  auto opened = core->open(preferred);
  if (!opened) return fail(std::move(opened).error().context("exit watcher (" + std::string(to_string(preferred)) + ")"));
  return std::unique_ptr<ExitWatcher>(new ExitWatcher(std::move(core)));
}

std::vector<ExitWatchBackend> ExitWatcher::available_backends() {
  std::vector<Backend> found;
  io_uring ring{};
  if (io_uring_queue_init(2, &ring, 0) == 0) {
    Probe probe = probe_ring(ring);
    io_uring_queue_exit(&ring);
    if (probe.waitid) found.push_back(Backend::waitid);
    if (probe.poll) found.push_back(Backend::poll);
  }
  found.push_back(Backend::epoll);
  return found;
}

ExitWatcher::~ExitWatcher() { core_->shutdown(); }

void ExitWatcher::start(int pidfd, Handler handler, asio::cancellation_slot slot) {
  core_->start(pidfd, std::move(handler), slot);
}

asio::awaitable<Result<void>> ExitWatcher::wait_exit(int pidfd) {
  auto [ec] = co_await async_wait_exit(pidfd, asio::as_tuple(asio::use_awaitable));
  // `this` may be gone by now: only locals from here on.
  if (ec == asio::error::operation_aborted) {
    co_return fail(Error("wait for exit of pidfd " + std::to_string(pidfd) + ": cancelled", ECANCELED));
  }
  if (ec) co_return fail(Error("wait for exit of pidfd " + std::to_string(pidfd), ec.value()));
  co_return Result<void>{};
}

std::size_t ExitWatcher::cancel(int pidfd) { return core_->cancel(pidfd); }
ExitWatchBackend ExitWatcher::backend() const { return core_->backend(); }
std::size_t ExitWatcher::pending() const { return core_->pending(); }

}  // namespace berth::launcher
