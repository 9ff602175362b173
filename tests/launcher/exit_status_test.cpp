#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "../../launcher/init/init_core.hpp"
#include "berth/launcher/child_steps.hpp"
#include "berth/launcher/launcher.hpp"
#include "launcher/launcher_test_util.hpp"

namespace berth::launcher {
namespace {

using testing::TempDir;
using testing::write_text;

TEST(ExitStatusTest, DescribesAnExit) {
  EXPECT_EQ((ExitStatus{.signaled = false, .code = 3}).describe(), "exited with status 3");
  EXPECT_EQ((ExitStatus{.signaled = false, .code = 0}).describe(), "exited with status 0");
}

TEST(ExitStatusTest, DescribesAKillWithTheSignalName) {
  EXPECT_EQ((ExitStatus{.signaled = true, .code = SIGKILL}).describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ((ExitStatus{.signaled = true, .code = SIGTERM}).describe(), "killed by signal 15 (SIGTERM)");
}

TEST(ExitStatusTest, DescribesAnUnnamedSignalByNumber) {
  EXPECT_EQ((ExitStatus{.signaled = true, .code = 99}).describe(), "killed by signal 99");
}

TEST(ExitStatusTest, DecodesWaitStatuses) {
  EXPECT_EQ(decode_wait_status(W_EXITCODE(3, 0)).value(), (ExitStatus{.signaled = false, .code = 3}));
  EXPECT_EQ(decode_wait_status(W_EXITCODE(0, SIGKILL)).value(), (ExitStatus{.signaled = true, .code = SIGKILL}));
  EXPECT_FALSE(decode_wait_status(W_STOPCODE(SIGSTOP)).has_value());
}

TEST(InitCoreTest, FormatsAndParsesDecimals) {
  char text[16];
  EXPECT_EQ(std::string(text, init::format_decimal(0, text)), "0");
  EXPECT_EQ(std::string(text, init::format_decimal(4194304, text)), "4194304");
  EXPECT_EQ(init::parse_decimal("4194304"), 4194304);
  EXPECT_EQ(init::parse_decimal("0"), 0);
  for (const char* bad : {"", "-1", "12x", "1234567890", " 1"}) EXPECT_EQ(init::parse_decimal(bad), -1) << bad;
  EXPECT_EQ(init::parse_decimal(nullptr), -1);
}

TEST(InitCoreTest, ForwardsTheSignalsThatStopOrPokeATask) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) EXPECT_TRUE(init::is_forwarded(sig)) << sig;
  for (int sig : {SIGCHLD, SIGKILL, SIGSTOP, SIGWINCH, SIGPIPE}) EXPECT_FALSE(init::is_forwarded(sig)) << sig;
}

TEST(ExitStatusTest, InitExitCodeFollowsTheShellConvention) {
  EXPECT_EQ(init::exit_code_for(W_EXITCODE(3, 0)), 3);
  EXPECT_EQ(init::exit_code_for(W_EXITCODE(0, SIGKILL)), 128 + SIGKILL);
}

class ReadExitStatusTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(ReadExitStatusTest, ReadsAnExit) {
  write_text(dir_ / "exit_status", "768\n");  // W_EXITCODE(3, 0)
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = false, .code = 3}));
}

TEST_F(ReadExitStatusTest, ReadsAKill) {
  write_text(dir_ / "exit_status", "15");
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = true, .code = SIGTERM}));
}

TEST_F(ReadExitStatusTest, MissingFileIsAnErrorWithEnoent) {
  auto status = read_exit_status(dir_.path());
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), ENOENT);
  EXPECT_EQ(status.error().path(), (dir_ / "exit_status").string());
}

TEST_F(ReadExitStatusTest, CorruptContentsAreErrors) {
  for (const char* corrupt : {"", "\n", "abc", "12x", "-1", "1 2", "99999999999999999999", "4991\n"}) {
    write_text(dir_ / "exit_status", corrupt);
    auto status = read_exit_status(dir_.path());
    EXPECT_FALSE(status.has_value()) << "accepted \"" << corrupt << "\"";
    if (!status) {
      EXPECT_EQ(status.error().path(), (dir_ / "exit_status").string());
    }
  }
}

TEST_F(ReadExitStatusTest, RoundTripsWhatInitWrites) {
  UniqueFd dirfd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dirfd);
  ASSERT_EQ(init::write_exit_status(dirfd.get(), W_EXITCODE(42, 0)), 0);
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = false, .code = 42}));
  ASSERT_EQ(init::write_exit_status(dirfd.get(), W_EXITCODE(0, SIGSEGV) | WCOREFLAG), 0);
  EXPECT_EQ(read_exit_status(dir_.path()).value(), (ExitStatus{.signaled = true, .code = SIGSEGV}));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exit_status.tmp"));
}

TEST_F(ReadExitStatusTest, WriteFailsWithTheErrnoWhenTheDirIsGone) {
  auto sub = dir_ / "gone";
  std::filesystem::create_directory(sub);
  UniqueFd dirfd(::open(sub.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::filesystem::remove(sub);
  EXPECT_EQ(init::write_exit_status(dirfd.get(), 0), ENOENT);
}

}  // namespace
}  // namespace berth::launcher
