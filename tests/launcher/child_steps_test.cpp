// Each child step run on its own in a forked process (they change the process
// they run in); the child's exit code carries the verdict back.

#include "berth/launcher/child_steps.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include <gtest/gtest.h>

#include "launcher/launcher_test_util.hpp"

namespace berth::launcher {
namespace {

using testing::slurp;
using testing::TempDir;

// Runs `body` in a forked child; returns its exit code (or 1000 + signal).
int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

bool is_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

class ChildStepsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  LaunchRequest request_ = testing::basic_request(dir_, {"/bin/true"});
  ChildState state_;
};

TEST_F(ChildStepsTest, OpenStdoutCreatesTheFileWithMode0640) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    ::umask(022);
    if (steps::open_stdout(plan, state_) != 0) return 1;
    return ::write(STDOUT_FILENO, "out\n", 4) == 4 && !is_cloexec(STDOUT_FILENO) ? 0 : 2;
  });
  ASSERT_EQ(code, 0);
  EXPECT_EQ(slurp(dir_ / "stdout"), "out\n");
  EXPECT_EQ(std::filesystem::status(dir_ / "stdout").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read);
}

TEST_F(ChildStepsTest, OpenStderrAppendsToAnExistingFile) {
  testing::write_text(dir_ / "stderr", "before\n");
  ChildPlan plan(request_);
  int code = in_child([&] {
    if (steps::open_stderr(plan, state_) != 0) return 1;
    return ::write(STDERR_FILENO, "after\n", 6) == 6 ? 0 : 2;
  });
  ASSERT_EQ(code, 0);
  EXPECT_EQ(slurp(dir_ / "stderr"), "before\nafter\n");
}

TEST_F(ChildStepsTest, OpenStdoutReportsTheErrno) {
  request_.stdout_path = dir_ / "no-such-dir" / "stdout";
  ChildPlan plan(request_);
  EXPECT_EQ(in_child([&] { return steps::open_stdout(plan, state_); }), ENOENT);
}

TEST_F(ChildStepsTest, OpenStdinIsDevNull) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    if (steps::open_stdin(plan, state_) != 0) return 1;
    struct stat st {};
    char byte;
    if (::fstat(STDIN_FILENO, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) return 2;
    return ::read(STDIN_FILENO, &byte, 1) == 0 ? 0 : 3;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(ChildStepsTest, ChangeDirEntersTheWorkingDir) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    if (steps::change_dir(plan, state_) != 0) return 1;
    return std::filesystem::current_path() == dir_.path() ? 0 : 2;
  });
  EXPECT_EQ(code, 0);
  request_.spec.process.cwd = (dir_ / "missing").string();
  ChildPlan missing(request_);
  EXPECT_EQ(in_child([&] { return steps::change_dir(missing, state_); }), ENOENT);
}

// The parent's fds sit wherever they are, even on 3 and 4 swapped.
TEST_F(ChildStepsTest, IsolateFdsKeepsOnlyStdioTheErrorPipeAndTheRuntimeDir) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return 1;
    ::dup2(pipe_fds[1], kRuntimeDirFd);
    state_.error_fd = kRuntimeDirFd;
    if (steps::open_runtime_dir(plan, state_) != 0) return 2;
    ::dup2(state_.runtime_dir_fd, kErrorFd);
    state_.runtime_dir_fd = kErrorFd;
    for (int i = 0; i < 5; ++i) ::open("/dev/null", O_RDONLY);  // leaked, as an agent's fds would be
    if (steps::isolate_fds(plan, state_) != 0) return 3;
    if (state_.error_fd != kErrorFd || state_.runtime_dir_fd != kRuntimeDirFd) return 4;
    struct stat pipe_st {}, dir_st {};
    ::fstat(kErrorFd, &pipe_st);
    ::fstat(kRuntimeDirFd, &dir_st);
    if (!S_ISFIFO(pipe_st.st_mode) || !S_ISDIR(dir_st.st_mode)) return 5;
    if (!is_cloexec(kErrorFd) || !is_cloexec(kRuntimeDirFd)) return 6;
    for (int fd = kRuntimeDirFd + 1; fd < 256; ++fd) {
      if (is_open(fd)) return 7;
    }
    return is_open(0) && is_open(1) && is_open(2) ? 0 : 8;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(ChildStepsTest, CloseFdsMarksAllButStdioCloseOnExec) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    int leaked = ::open("/dev/null", O_RDONLY);
    if (leaked < 3 || is_cloexec(leaked)) return 1;
    if (steps::close_fds(plan, state_) != 0) return 2;
    if (!is_cloexec(leaked)) return 3;
    return !is_cloexec(0) && !is_cloexec(1) && !is_cloexec(2) ? 0 : 4;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(ChildStepsTest, ResetSignalsRestoresDefaultsAndBlocksEverything) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGCHLD, SIG_IGN);
    if (steps::reset_signals(plan, state_) != 0) return 1;
    struct sigaction term {}, chld {};
    ::sigaction(SIGTERM, nullptr, &term);
    ::sigaction(SIGCHLD, nullptr, &chld);
    if (term.sa_handler != SIG_DFL || chld.sa_handler != SIG_DFL) return 2;
    sigset_t mask;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask);
    if (!::sigismember(&mask, SIGTERM) || !::sigismember(&mask, SIGCHLD) || !::sigismember(&mask, SIGRTMAX)) return 3;
    if (steps::unblock_signals(plan, state_) != 0) return 4;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask);
    return ::sigisemptyset(&mask) ? 0 : 5;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(ChildStepsTest, DieWithInitKillsTheTaskWhenItsParentDies) {
  ChildPlan plan(request_);
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // adopt the task once its "init" is gone
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t init = ::fork();
  if (init == 0) {
    state_.init_pid = ::getpid();
    if (::fork() == 0) {
      pid_t self = steps::die_with_init(plan, state_) == 0 ? ::getpid() : -1;
      (void)!::write(ready[1], &self, sizeof self);
      ::pause();
      ::_exit(2);
    }
    ::pause();
    ::_exit(3);
  }
  ::close(ready[1]);
  pid_t task = -1;
  EXPECT_EQ(::read(ready[0], &task, sizeof task), static_cast<ssize_t>(sizeof task));
  ::close(ready[0]);
  ::kill(init, SIGKILL);
  ::waitpid(init, nullptr, 0);
  int status = 0;
  ASSERT_GT(task, 0);
  ASSERT_EQ(::waitpid(task, &status, 0), task);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(ChildStepsTest, DieWithInitFailsIfInitIsAlreadyGone) {
  ChildPlan plan(request_);
  state_.init_pid = ::getpid() + 1;  // not the parent of the forked child
  EXPECT_EQ(in_child([&] { return steps::die_with_init(plan, state_); }), ESRCH);
}

TEST_F(ChildStepsTest, NewSessionMakesTheTaskASessionLeader) {
  ChildPlan plan(request_);
  int code = in_child([&] {
    if (steps::new_session(plan, state_) != 0) return 1;
    return ::getsid(0) == ::getpid() && ::getpgrp() == ::getpid() ? 0 : 2;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(ChildStepsTest, ExecTaskReportsAMissingProgram) {
  request_.spec.process.args = {"/no/such/cmd"};
  ChildPlan plan(request_);
  EXPECT_EQ(in_child([&] { return steps::exec_task(plan, state_); }), ENOENT);
}

TEST_F(ChildStepsTest, ExecTaskSearchesPathInOrder) {
  request_.spec.process.args = {"sh", "-c", "exit 7"};
  request_.spec.process.env = {"PATH=" + (dir_ / "missing").string() + ":/bin"};
  ChildPlan plan(request_);
  EXPECT_EQ(in_child([&] { return steps::exec_task(plan, state_); }), 7);
}

TEST_F(ChildStepsTest, ExecTaskSkipsANonExecutableMatchButReportsEaccesIfNothingRuns) {
  auto bin = dir_ / "bin";
  std::filesystem::create_directory(bin);
  testing::write_text(bin / "sh", "not a program");
  request_.spec.process.args = {"sh", "-c", "exit 7"};
  request_.spec.process.env = {"PATH=" + bin.string() + ":/bin"};
  ChildPlan found_later(request_);
  EXPECT_EQ(in_child([&] { return steps::exec_task(found_later, state_); }), 7);
  request_.spec.process.env = {"PATH=" + bin.string()};
  ChildPlan only_denied(request_);
  EXPECT_EQ(in_child([&] { return steps::exec_task(only_denied, state_); }), EACCES);
}

TEST(ChildStepTablesTest, StepsRunInTheDocumentedOrder) {
  std::vector<ChildStep> init, early, task;
  for (const auto& step : init_steps()) init.push_back(step.id);
  for (const auto& step : early_task_steps()) early.push_back(step.id);
  for (const auto& step : task_steps()) task.push_back(step.id);
  EXPECT_EQ(init.front(), ChildStep::kJoinNamespaces);  // while the fds of the namespaces are still open
  EXPECT_EQ(init[1], ChildStep::kWaitForIdMaps);        // nobody can create files before the maps exist
  EXPECT_EQ(init[2], ChildStep::kOpenRuntimeDir);       // before anything can change what the path means
  EXPECT_EQ(init[3], ChildStep::kAttachLayers);         // while their fds are open, before any mount uses them
  EXPECT_EQ(init[4], ChildStep::kIsolateFds);
  auto position_of = [&](ChildStep step) { return std::ranges::find(init, step) - init.begin(); };
  EXPECT_LT(position_of(ChildStep::kAttachLayers), position_of(ChildStep::kBindRootfs));
  // stdio is opened on the host's paths, before pivot_root hides them.
  auto position = [&](ChildStep step) { return std::ranges::find(init, step) - init.begin(); };
  EXPECT_LT(position(ChildStep::kOpenStderr), position(ChildStep::kPivotRoot));
  EXPECT_LT(position(ChildStep::kWriteSysctls), position(ChildStep::kReadonlyPaths));
  // A gated init checks for the executable in the container's final view, last.
  EXPECT_LT(position(ChildStep::kChdir), position(ChildStep::kFindExecutable));
  EXPECT_EQ(init.back(), ChildStep::kFindExecutable);
  // The task: every setup step, then (gated) the start gate, the filter, execve.
  EXPECT_EQ(task.back(), ChildStep::kExecve);
  EXPECT_EQ(task[task.size() - 2], ChildStep::kLoadSeccomp);
  EXPECT_EQ(task[task.size() - 3], ChildStep::kWaitForStart);
  // Credentials in the kernel's order: bounding set while CAP_SETPCAP is
  // effective, the parent-death signal after setuid clears it.
  auto task_position = [&](ChildStep step) { return std::ranges::find(task, step) - task.begin(); };
  EXPECT_LT(task_position(ChildStep::kSetOomScoreAdj), task_position(ChildStep::kSetUid));
  EXPECT_LT(task_position(ChildStep::kDropBoundingSet), task_position(ChildStep::kSetUid));
  EXPECT_LT(task_position(ChildStep::kSetUid), task_position(ChildStep::kSetCapabilities));
  EXPECT_LT(task_position(ChildStep::kSetUid), task_position(ChildStep::kDieWithInit));
  EXPECT_LT(task_position(ChildStep::kLoadSeccompPrivileged), task_position(ChildStep::kDropBoundingSet));
  // A task forked beside init's setup: its parent-death signal first (init may
  // fail and exit), the filter while CAP_SYS_ADMIN is held, then it waits, and
  // goes on with the rest from its own chdir.
  EXPECT_EQ(early, (std::vector{ChildStep::kDieWithInitEarly, ChildStep::kLoadSeccompEarly,
                                ChildStep::kDropBoundingSetEarly, ChildStep::kWaitForSetup}));
  EXPECT_EQ(task.front(), ChildStep::kTaskChdir);
  EXPECT_EQ(init.size() + early.size() + task.size() + 2, kChildStepCount);  // + fork task, exec berth-init
}

}  // namespace
}  // namespace berth::launcher
