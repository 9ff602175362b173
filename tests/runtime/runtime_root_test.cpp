// berth-runtime, the OCI runtime CLI, as a user runs it (root): the same
// bundle as runc, the create/start/state/kill/delete lifecycle, exit codes,
// and bad input that gets a clear error and leaves nothing behind.

#include <signal.h>

#include <boost/json.hpp>

#include <algorithm>
#include <sstream>

#include "runtime/bundle_util.hpp"
#include "support/root.hpp"

namespace berth::runtime {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using berth::testing::run;

constexpr auto kTimeout = 30s;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    cgroup_root_ = fs::path(launcher::testing::kCgroup2Mount) / ("berth-runtime-test-" + std::to_string(::getpid()) +
                                                                 "-" + std::to_string(counter_++));
    fs::create_directories(cgroup_root_);
  }
  void TearDown() override {
    if (cgroup_root_.empty()) return;
    // Every container deleted: no state, no cgroup, no process.
    EXPECT_TRUE(fs::is_empty(state_root_.path())) << "state left in " << state_root_.path();
    std::vector<std::string> left;
    for (const auto& entry : fs::recursive_directory_iterator(cgroup_root_)) {
      if (entry.is_directory()) left.push_back(entry.path());
    }
    EXPECT_TRUE(left.empty()) << "cgroup left: " << left.front();
    for (auto it = left.rbegin(); it != left.rend(); ++it) {
      berth::testing::write_text(*it + "/cgroup.kill", "1");
      std::this_thread::sleep_for(50ms);
      ::rmdir(it->c_str());
    }
    EXPECT_EQ(::rmdir(cgroup_root_.c_str()), 0);
  }

  std::vector<std::string> berth(std::vector<std::string> args) const {
    std::vector<std::string> argv = {std::string(BERTH_BIN_DIR) + "/berth-runtime", "--root", state_root_.path(),
                                     "--cgroup-root", cgroup_root_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  RunResult runtime(std::vector<std::string> args) const { return run(berth(std::move(args)), kTimeout); }

  json::object state_of(const std::string& id) const {
    auto state = runtime({"state", id});
    EXPECT_EQ(state.exit_code, 0) << state.err;
    return state.exit_code == 0 ? json::parse(state.out).as_object() : json::object{};
  }

  static inline int counter_ = 0;
  TempDir bundle_;
  TempDir state_root_;
  fs::path cgroup_root_;
};

// What a container looks like from inside, in lines that do not depend on
// which runtime set it up. (Where they differ by design: the task is pid 2
// under Berth's init, and masked directories get nosuid,nodev,noexec.)
constexpr char kProbe[] =
    "hostname; id; grep -E '^(Cap|NoNewPrivs)' /proc/self/status; ls /dev | sort | tr '\\n' ' '; echo; "
    "cut -d' ' -f5,6 /proc/self/mountinfo | cut -d, -f1 | sort; ulimit -n; ulimit -Hn; "
    "wc -c < /proc/kcore; cat /proc/keys | wc -c; echo x 2>/dev/null > /proc/sys/kernel/hostname || echo ro-proc-sys; "
    "echo x 2>/dev/null > /proc/sysrq-trigger || echo ro-sysrq; touch /sys/x 2>/dev/null || echo ro-sys; "
    "grep -c : /proc/net/dev; ls /sys/fs/cgroup | grep -c cgroup.procs; echo done";

TEST_F(RuntimeTest, RunsTheSameBundleAsRuncWithTheSameResult) {
  BERTH_REQUIRE_RUNC();
  make_bundle(bundle_.path(), {"sh", "-c", kProbe});
  auto ours = runtime({"run", "--bundle", bundle_.path(), "probe"});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  TempDir runc_root;
  auto theirs = run(in_pure_cgroup2("runc --root " + runc_root.path().string() + " run --bundle " +
                                    bundle_.path().string() + " probe-runc"),
                    kTimeout);
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_EQ(ours.err, theirs.err);
  EXPECT_TRUE(ours.out.ends_with("done\n")) << ours.out;
}

TEST_F(RuntimeTest, CreateStartStateKillDelete) {
  BERTH_REQUIRE_RUNC();
  make_bundle(bundle_.path(), {"sh", "-c", "echo started > /tmp/started; exec sleep 1000"});
  edit_config(bundle_.path(), [](json::object& c) { c["root"].as_object()["readonly"] = false; });
  auto pid_file = bundle_ / "pid";
  auto created = runtime({"create", "--bundle", bundle_.path(), "--pid-file", pid_file, "box"});
  ASSERT_EQ(created.exit_code, 0) << created.err;

  auto state = state_of("box");
  EXPECT_EQ(state["ociVersion"].as_string(), "1.0.2");
  EXPECT_EQ(state["id"].as_string(), "box");
  EXPECT_EQ(state["status"].as_string(), "created");
  EXPECT_EQ(state["bundle"].as_string(), bundle_.path().string());
  EXPECT_EQ(std::to_string(state["pid"].as_int64()), berth::testing::read_file(pid_file));
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(fs::exists(bundle_ / "rootfs/tmp/started")) << "the process ran before start";

  auto started = runtime({"start", "box"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_TRUE(berth::testing::wait_until([&] { return fs::exists(bundle_ / "rootfs/tmp/started"); }, 5s));
  EXPECT_EQ(state_of("box")["status"].as_string(), "running");
  auto again = runtime({"start", "box"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "berth-runtime: container 'box' is running, not created\n");
  auto refused = runtime({"delete", "box"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err, "berth-runtime: container 'box' is running: kill it first or use --force\n");

  ASSERT_EQ(runtime({"kill", "box", "KILL"}).exit_code, 0);
  EXPECT_TRUE(berth::testing::wait_until([&] { return state_of("box")["status"].as_string() == "stopped"; }, 5s));
  EXPECT_FALSE(state_of("box").contains("pid"));
  auto deleted = runtime({"delete", "box"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  auto gone = runtime({"state", "box"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("box"), std::string::npos) << gone.err;
}

TEST_F(RuntimeTest, KillingACreatedContainerStopsIt) {
  BERTH_REQUIRE_RUNC();
  make_bundle(bundle_.path(), {"true"});
  ASSERT_EQ(runtime({"create", "--bundle", bundle_.path(), "c1"}).exit_code, 0);
  ASSERT_EQ(runtime({"kill", "c1"}).exit_code, 0);
  EXPECT_TRUE(berth::testing::wait_until([&] { return state_of("c1")["status"].as_string() == "stopped"; }, 5s));
  EXPECT_EQ(runtime({"delete", "c1"}).exit_code, 0);
}

TEST_F(RuntimeTest, ForceDeleteOfARunningContainerLeavesNothing) {
  BERTH_REQUIRE_RUNC();
  make_bundle(bundle_.path(), {"sh", "-c", "sleep 1000 & sleep 1000"});
  ASSERT_EQ(runtime({"create", "--bundle", bundle_.path(), "f1"}).exit_code, 0);
  ASSERT_EQ(runtime({"start", "f1"}).exit_code, 0);
  auto deleted = runtime({"delete", "--force", "f1"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
}

TEST_F(RuntimeTest, RunReturnsTheExitCodeAndPassesStdio) {
  BERTH_REQUIRE_RUNC();
  make_bundle(bundle_.path(), {"sh", "-c", "echo out; echo err >&2; exit 3"});
  auto ran = runtime({"run", "--bundle", bundle_.path(), "r1"});
  EXPECT_EQ(ran.exit_code, 3);
  EXPECT_EQ(ran.out, "out\n");
  EXPECT_EQ(ran.err, "err\n");
  make_bundle(bundle_ / "b2", {"sh", "-c", "kill -KILL $$"});
  auto killed = runtime({"run", "--bundle", bundle_ / "b2", "r2"});
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL);
}

TEST_F(RuntimeTest, BadInputGetsAnErrorNamingWhatWasWrong) {
  BERTH_REQUIRE_RUNC();
  auto no_config = runtime({"run", "--bundle", bundle_.path(), "x1"});
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find("config.json"), std::string::npos) << no_config.err;

  make_bundle(bundle_.path(), {"true"});
  edit_config(bundle_.path(), [](json::object& c) { c["linux"].as_object()["namespaces"].as_array()[0].as_object()["type"] = "pidd"; });
  auto bad_ns = runtime({"run", "--bundle", bundle_.path(), "x2"});
  EXPECT_EQ(bad_ns.exit_code, 1);
  EXPECT_EQ(bad_ns.err, "berth-runtime: bundle " + bundle_.path().string() +
                            ": config.json: linux.namespaces[0].type: unknown namespace type 'pidd'\n");

  make_bundle(bundle_ / "b2", {"/bin/no-such-program"});
  auto missing = runtime({"run", "--bundle", bundle_ / "b2", "x3"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "berth-runtime: execve '/bin/no-such-program': No such file or directory\n");
  // create checks before the start gate, where execve cannot yet say it.
  auto missing_created = runtime({"create", "--bundle", bundle_ / "b2", "x3"});
  EXPECT_EQ(missing_created.exit_code, 1);
  EXPECT_EQ(missing_created.err,
            "berth-runtime: find executable '/bin/no-such-program': No such file or directory\n");

  make_bundle(bundle_ / "b3", {"true"});
  edit_config(bundle_ / "b3", [](json::object& c) { c["root"].as_object()["path"] = "no-such-rootfs"; });
  auto no_rootfs = runtime({"create", "--bundle", bundle_ / "b3", "x4"});
  EXPECT_EQ(no_rootfs.exit_code, 1);
  EXPECT_NE(no_rootfs.err.find("root.path"), std::string::npos) << no_rootfs.err;

  auto bad_id = runtime({"create", "--bundle", bundle_ / "b2", "../escape"});
  EXPECT_EQ(bad_id.exit_code, 1);
  EXPECT_NE(bad_id.err.find("../escape"), std::string::npos) << bad_id.err;

  auto unknown = runtime({"kill", "nobody", "TERM"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;
  auto bad_signal = runtime({"kill", "nobody", "SIGFOO"});
  EXPECT_EQ(bad_signal.exit_code, 1);
  EXPECT_NE(bad_signal.err.find("SIGFOO"), std::string::npos) << bad_signal.err;
}

TEST_F(RuntimeTest, ASecondCreateOfTheSameIdIsRefusedAndTheFirstSurvives) {
  BERTH_REQUIRE_RUNC();
  make_bundle(bundle_.path(), {"true"});
  ASSERT_EQ(runtime({"create", "--bundle", bundle_.path(), "dup"}).exit_code, 0);
  auto second = runtime({"create", "--bundle", bundle_.path(), "dup"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("dup"), std::string::npos) << second.err;
  EXPECT_EQ(state_of("dup")["status"].as_string(), "created");
  EXPECT_EQ(runtime({"delete", "--force", "dup"}).exit_code, 0);
}

}  // namespace
}  // namespace berth::runtime
