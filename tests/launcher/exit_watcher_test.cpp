// ExitWatcher, every backend through the same suite (no root needed): forked
// children exit with known codes, their exits are awaited on an io_context.

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "berth/common/fd.hpp"
#include "berth/launcher/exit_watcher.hpp"

namespace berth::launcher {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Backend = ExitWatchBackend;

// glibc 2.36's <sys/pidfd.h> lacks extern "C": call the syscall.
int pidfd_open(pid_t pid, unsigned flags) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags)); }
constexpr unsigned kPidfdNonblock = O_NONBLOCK;  // PIDFD_NONBLOCK

struct Child {
  pid_t pid = -1;
  UniqueFd pidfd;
};

// A child that exits with `code` after `delay`.
Child fork_exiting(int code, std::chrono::milliseconds delay = 0ms, unsigned pidfd_flags = 0) {
  Child child;
  child.pid = ::fork();
  if (child.pid == 0) {
    if (delay.count() > 0) ::usleep(static_cast<useconds_t>(delay.count() * 1000));
    ::_exit(code);
  }
  child.pidfd.reset(pidfd_open(child.pid, pidfd_flags));
  return child;
}

Child fork_sleeping() { return fork_exiting(0, 100'000ms); }

// Reaps the child and returns its exit code (or -signal, or -1000 on error).
int reap(const Child& child) {
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED) != 0) return -1000;
  return info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
}

void kill_and_reap(const Child& child) {
  ::kill(child.pid, SIGKILL);
  (void)reap(child);
}

std::set<int> open_fds() {
  std::set<int> fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    fds.insert(std::stoi(entry.path().filename()));
  }
  return fds;
}

class ExitWatcherTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto created = ExitWatcher::create(context_.get_executor(), GetParam());
    if (!created && (created.error().code() == EOPNOTSUPP || created.error().code() == ENOSYS)) {
      GTEST_SKIP() << "backend not on this host: " << created.error().what();
    }
    ASSERT_TRUE(created.has_value()) << created.error().what();
    watcher_ = std::move(*created);
  }

  // Runs the loop until it has no work left; false if it was still busy after 20 s.
  bool run() { return run_for(20s); }
  bool run_for(std::chrono::milliseconds limit) {
    context_.restart();
    context_.run_for(limit);
    return context_.stopped();
  }

  // Starts a wait; its result lands in `results_[slot]` and its slot in `order_`.
  void watch(const Child& child, std::size_t slot) {
    if (results_.size() <= slot) results_.resize(slot + 1);
    asio::co_spawn(context_, watcher_->wait_exit(child.pidfd.get()),
                   [this, slot](std::exception_ptr error, Result<void> result) {
                     if (error) std::rethrow_exception(error);
                     results_[slot] = std::move(result);
                     order_.push_back(slot);
                   });
  }

  asio::io_context context_;
  std::unique_ptr<ExitWatcher> watcher_;
  std::vector<std::optional<Result<void>>> results_;
  std::vector<std::size_t> order_;
};

TEST_P(ExitWatcherTest, UsesTheBackendAskedFor) { EXPECT_EQ(watcher_->backend(), GetParam()); }

TEST_P(ExitWatcherTest, ChildThatAlreadyExitedCompletesAndStaysReapable) {
  Child child = fork_exiting(3);
  std::this_thread::sleep_for(50ms);
  watch(child, 0);
  ASSERT_TRUE(run());
  ASSERT_TRUE(results_[0].has_value());
  EXPECT_TRUE(results_[0]->has_value()) << results_[0]->error().what();
  EXPECT_EQ(reap(child), 3);
}

TEST_P(ExitWatcherTest, CompletesOnlyOnceTheChildExits) {
  Child child = fork_exiting(7, 200ms);
  auto started = std::chrono::steady_clock::now();
  watch(child, 0);
  ASSERT_TRUE(run());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
  ASSERT_TRUE(results_[0].has_value() && results_[0]->has_value());
  EXPECT_EQ(watcher_->pending(), 0u);
  // The watcher did not reap it: its status is still the caller's to read.
  EXPECT_EQ(reap(child), 7);
}

TEST_P(ExitWatcherTest, TwoHundredConcurrentWaitsAllComplete) {
  constexpr int kChildren = 200;
  std::vector<Child> children;
  for (int i = 0; i < kChildren; ++i) children.push_back(fork_exiting(i % 200, std::chrono::milliseconds(i % 50)));
  for (int i = 0; i < kChildren; ++i) watch(children[i], static_cast<std::size_t>(i));
  ASSERT_TRUE(run());
  EXPECT_EQ(order_.size(), static_cast<std::size_t>(kChildren));
  for (int i = 0; i < kChildren; ++i) {
    ASSERT_TRUE(results_[i].has_value()) << i;
    EXPECT_TRUE(results_[i]->has_value()) << i << ": " << results_[i]->error().what();
    EXPECT_EQ(reap(children[i]), i % 200) << i;
  }
  EXPECT_EQ(watcher_->pending(), 0u);
}

TEST_P(ExitWatcherTest, CompletionsFollowTheOrderOfExits) {
  constexpr int kChildren = 6;
  std::vector<Child> children;
  // Started first, exits last.
  for (int i = 0; i < kChildren; ++i) children.push_back(fork_exiting(0, (kChildren - i) * 60ms));
  for (int i = 0; i < kChildren; ++i) watch(children[i], static_cast<std::size_t>(i));
  ASSERT_TRUE(run());
  EXPECT_EQ(order_, (std::vector<std::size_t>{5, 4, 3, 2, 1, 0}));
  for (const auto& child : children) EXPECT_EQ(reap(child), 0);
}

TEST_P(ExitWatcherTest, CancelFailsTheWaitsOnThatPidfdOnly) {
  Child sleeping = fork_sleeping();
  Child exiting = fork_exiting(5, 100ms);
  watch(sleeping, 0);
  watch(sleeping, 1);
  watch(exiting, 2);
  run_for(20ms);
  EXPECT_EQ(watcher_->cancel(sleeping.pidfd.get()), 2u);
  EXPECT_EQ(watcher_->cancel(sleeping.pidfd.get()), 0u);
  ASSERT_TRUE(run()) << "a cancelled wait kept the loop busy";
  for (std::size_t slot : {0u, 1u}) {
    ASSERT_TRUE(results_[slot].has_value());
    ASSERT_FALSE(results_[slot]->has_value());
    EXPECT_EQ(results_[slot]->error().code(), ECANCELED);
  }
  ASSERT_TRUE(results_[2].has_value());
  EXPECT_TRUE(results_[2]->has_value());
  EXPECT_EQ(watcher_->pending(), 0u);
  kill_and_reap(sleeping);
  EXPECT_EQ(reap(exiting), 5);
}

TEST_P(ExitWatcherTest, AsioCancellationSignalCancelsTheWait) {
  using namespace asio::experimental::awaitable_operators;
  Child sleeping = fork_sleeping();
  std::optional<bool> timer_won;
  asio::co_spawn(
      context_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(context_, 30ms);
        auto winner = co_await (watcher_->wait_exit(sleeping.pidfd.get()) || timer.async_wait(asio::use_awaitable));
        timer_won = winner.index() == 1;
      },
      asio::detached);
  ASSERT_TRUE(run());
  EXPECT_EQ(timer_won, true);
  EXPECT_EQ(watcher_->pending(), 0u);
  kill_and_reap(sleeping);
}

TEST_P(ExitWatcherTest, DestroyingTheWatcherFailsOutstandingWaitsAndLeaksNoFd) {
  std::vector<Child> children;
  for (int i = 0; i < 20; ++i) children.push_back(fork_sleeping());
  // One wait first, so Asio's reactor (its epoll fd etc.) exists before the count.
  Child warm_up = fork_exiting(0);
  watch(warm_up, children.size());
  ASSERT_TRUE(run());
  EXPECT_EQ(reap(warm_up), 0);
  results_.clear();
  order_.clear();
  auto fds_before = open_fds();
  for (std::size_t i = 0; i < children.size(); ++i) watch(children[i], i);
  run_for(20ms);
  watcher_.reset();
  ASSERT_TRUE(run()) << "the destroyed watcher left work in the loop";
  ASSERT_EQ(order_.size(), children.size());
  for (const auto& result : results_) {
    ASSERT_TRUE(result.has_value() && !result->has_value());
    EXPECT_EQ(result->error().code(), ECANCELED);
  }
  // Only the watcher's own ring and eventfd are gone; no per-wait dup or
  // registration is left behind.
  auto fds_after = open_fds();
  EXPECT_TRUE(std::ranges::includes(fds_before, fds_after));
  EXPECT_EQ(fds_after.size() + (GetParam() == Backend::epoll ? 0 : 2), fds_before.size());
  for (const auto& child : children) kill_and_reap(child);
}

TEST_P(ExitWatcherTest, ProcessThatIsNotOurChild) {
  // A grandchild: after its parent exits it belongs to init (or a
  // subreaper), so waitid cannot see it and the watcher must poll its pidfd.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t middle = ::fork();
  if (middle == 0) {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::usleep(200'000);
      ::_exit(0);
    }
    (void)!::write(pipe_fds[1], &grandchild, sizeof grandchild);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  pid_t grandchild = -1;
  ASSERT_EQ(::read(pipe_fds[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  ::close(pipe_fds[0]);
  ASSERT_EQ(::waitpid(middle, nullptr, 0), middle);
  Child other{.pid = grandchild, .pidfd = UniqueFd(pidfd_open(grandchild, 0))};
  ASSERT_TRUE(other.pidfd.valid());
  auto started = std::chrono::steady_clock::now();
  watch(other, 0);
  ASSERT_TRUE(run());
  ASSERT_TRUE(results_[0].has_value());
  EXPECT_TRUE(results_[0]->has_value()) << results_[0]->error().what();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
}

TEST_P(ExitWatcherTest, NonblockingPidfdStillWaits) {
  Child child = fork_exiting(9, 200ms, kPidfdNonblock);
  ASSERT_TRUE(child.pidfd.valid());
  auto started = std::chrono::steady_clock::now();
  watch(child, 0);
  ASSERT_TRUE(run());
  ASSERT_TRUE(results_[0].has_value() && results_[0]->has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
  // A nonblocking pidfd makes waitid WNOHANG: fine, the zombie is there.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED), 0);
  EXPECT_EQ(info.si_status, 9);
}

TEST_P(ExitWatcherTest, ClosedDescriptorIsAnError) {
  Child child = fork_exiting(0);
  int stale = ::dup(child.pidfd.get());
  ::close(stale);
  asio::co_spawn(context_, watcher_->wait_exit(stale), [this](std::exception_ptr, Result<void> result) {
    results_.push_back(std::move(result));
  });
  ASSERT_TRUE(run());
  ASSERT_EQ(results_.size(), 1u);
  ASSERT_FALSE(results_[0]->has_value());
  EXPECT_EQ(results_[0]->error().code(), EBADF);
  EXPECT_EQ(reap(child), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ExitWatcherTest, ::testing::Values(Backend::waitid, Backend::poll, Backend::epoll),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(ExitWatcher, AutomaticPicksTheBestBackendOfThisHost) {
  asio::io_context context;
  auto watcher = ExitWatcher::create(context.get_executor());
  ASSERT_TRUE(watcher.has_value()) << watcher.error().what();
  auto available = ExitWatcher::available_backends();
  ASSERT_FALSE(available.empty());
  EXPECT_EQ(available.back(), Backend::epoll);
  EXPECT_EQ((*watcher)->backend(), available.front());
}

// Exit codes of the sandboxed child below.
enum SandboxOutcome { kOk = 0, kSeccompFailed, kNotEpoll, kForcedDidNotFail, kWaitFailed };

// What a process in a sandbox that forbids io_uring (as Docker's default
// seccomp profile does) sees.
int run_without_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{.len = sizeof filter / sizeof filter[0], .filter = filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return kSeccompFailed;
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) return kSeccompFailed;
  asio::io_context context;
  auto forced = ExitWatcher::create(context.get_executor(), Backend::poll);
  if (forced || forced.error().code() != EPERM) return kForcedDidNotFail;
  auto watcher = ExitWatcher::create(context.get_executor());
  if (!watcher || (*watcher)->backend() != Backend::epoll) return kNotEpoll;
  Child child = fork_exiting(4, 50ms);
  std::optional<Result<void>> result;
  asio::co_spawn(context, (*watcher)->wait_exit(child.pidfd.get()),
                 [&](std::exception_ptr, Result<void> r) { result = std::move(r); });
  context.run_for(10s);
  if (!result || !result->has_value() || reap(child) != 4) return kWaitFailed;
  return kOk;
}

TEST(ExitWatcher, FallsBackToEpollWhereIoUringIsForbidden) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(run_without_io_uring());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kOk);
}

}  // namespace
}  // namespace berth::launcher
