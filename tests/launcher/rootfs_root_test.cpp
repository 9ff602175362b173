// The container's filesystem as the task sees it: each init step of the
// rootfs setup observed from inside a busybox container (root).

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include <pthread.h>
#include <signal.h>

#include "launcher/rootfs_test_util.hpp"

namespace berth::launcher {
namespace {

using testing::slurp;
using testing::TempDir;
namespace fs = std::filesystem;

struct MountEntry {
  std::string options;        // per-mount ("ro,nosuid,...")
  std::string type;
  std::string super_options;  // the filesystem's
};

// mount point -> entry, from /proc/self/mountinfo text (the last mount on a point wins).
std::map<std::string, MountEntry> parse_mountinfo(const std::string& text) {
  std::map<std::string, MountEntry> mounts;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options, field;
    fields >> id >> parent >> dev >> root >> point >> options;
    while (fields >> field && field != "-") {
    }
    MountEntry entry{options, "", ""};
    std::string source;
    fields >> entry.type >> source >> entry.super_options;
    mounts[point] = entry;
  }
  return mounts;
}

bool has_option(const std::string& options, const std::string& option) {
  return ("," + options + ",").find("," + option + ",") != std::string::npos;
}

using RootfsTest = testing::RootfsLaunchTest;

TEST_F(RootfsTest, TheTaskRunsUnderInitAsPid1InTheRootfs) {
  auto ran = sh("echo $$ $PPID; ls /");
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "2 1\nbin\ndev\netc\nproc\nroot\nsys\ntmp\n");
}

// Pid 1 is berth-init (exec'd, so nothing of the launching process's memory
// or command line is in the container). The task may start before pid 1 has
// exec'd berth-init (it does so right after starting the task), so the task
// looks for up to a second.
TEST_F(RootfsTest, Pid1IsBerthInit) {
  auto ran = sh("for i in $(seq 100); do c=$(tr '\\0' ' ' < /proc/1/cmdline); "
                "case \"$c\" in berth-init*) break;; esac; sleep 0.01; done; echo \"$c\"");
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_TRUE(ran.out.starts_with("berth-init 2 ")) << ran.out;
}

// Whatever the launching process ignores or blocks, the task starts with
// default dispositions, nothing blocked, in a session of its own; and its
// mounts propagate nowhere (no shared peer group on its root).
TEST_F(RootfsTest, SignalsSessionAndMountPropagationStartClean) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction saved_pipe {};
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &saved_pipe), 0);
  sigset_t usr1, saved_mask;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &saved_mask), 0);
  auto ran = sh("grep -E '^Sig(Ign|Blk)' /proc/self/status; cut -d' ' -f1,6 /proc/$$/stat; "
                "grep ' / / ' /proc/self/mountinfo | grep -c shared:");
  ::sigaction(SIGPIPE, &saved_pipe, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  EXPECT_EQ(ran.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n2 2\n0\n") << ran.err;
}

TEST_F(RootfsTest, HostnameAndDomainname) {
  auto host = slurp("/proc/sys/kernel/hostname");
  auto ran = sh("hostname; cat /proc/sys/kernel/domainname", [](oci::Spec& s) { s.domainname = "example.org"; });
  EXPECT_EQ(ran.out, "berth-box\nexample.org\n") << ran.err;
  EXPECT_EQ(slurp("/proc/sys/kernel/hostname"), host);
}

TEST_F(RootfsTest, SpecMountsAreMountedWithTheirOptions) {
  auto ran = sh("cat /proc/self/mountinfo", [](oci::Spec& s) {
    s.mounts.push_back({"/run/data", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=700", "size=1m"}});
  });
  ASSERT_EQ(ran.code, 0) << ran.err;
  auto mounts = parse_mountinfo(ran.out);
  EXPECT_EQ(mounts["/proc"].type, "proc");
  EXPECT_TRUE(has_option(mounts["/proc"].options, "noexec"));
  EXPECT_EQ(mounts["/dev"].type, "tmpfs");
  EXPECT_EQ(mounts["/dev/pts"].type, "devpts");
  EXPECT_TRUE(has_option(mounts["/dev/pts"].super_options, "ptmxmode=666"));
  EXPECT_EQ(mounts["/dev/mqueue"].type, "mqueue");
  EXPECT_EQ(mounts["/sys"].type, "sysfs");
  EXPECT_TRUE(has_option(mounts["/sys"].options, "ro"));
  EXPECT_EQ(mounts["/run/data"].type, "tmpfs");
  EXPECT_TRUE(has_option(mounts["/run/data"].options, "nosuid"));
  EXPECT_TRUE(has_option(mounts["/run/data"].super_options, "size=1024k"));
  EXPECT_TRUE(has_option(mounts["/run/data"].super_options, "mode=700"));
  EXPECT_TRUE(mounts.contains("/"));
  // The old root is gone: nothing of the host is mounted under another name.
  for (const auto& [point, entry] : mounts) {
    EXPECT_FALSE(point.starts_with("/tmp/berth-test")) << point;
  }
}

TEST_F(RootfsTest, BindMountsOfDirectoriesAndFilesRespectReadOnly) {
  TempDir host;
  testing::write_text(host / "note", "from the host\n");
  fs::create_directory(host / "rw");
  auto ran = sh("cat /etc/note; touch /data/x 2>/dev/null && echo data-writable || echo data-readonly; "
                "touch /rw/y && echo rw-writable",
                [&](oci::Spec& s) {
                  s.mounts.push_back({"/etc/note", "bind", (host / "note").string(), {"ro"}});
                  s.mounts.push_back({"/data", "", host.path().string(), {"rbind", "ro", "nosuid"}});
                  s.mounts.push_back({"/rw", "bind", (host / "rw").string(), {"bind"}});
                });
  EXPECT_EQ(ran.out, "from the host\ndata-readonly\nrw-writable\n") << ran.err;
  EXPECT_TRUE(fs::exists(host / "rw/y"));
  EXPECT_FALSE(fs::exists(host / "x"));
}

TEST_F(RootfsTest, DevHasTheDefaultNodesTheSpecsDevicesAndSymlinks) {
  auto ran = sh("stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse; "
                "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; echo hi > /dev/null && echo null-ok",
                [](oci::Spec& s) { s.linux_config.devices.push_back({'c', "/dev/fuse", 10, 229, 0600, 0, 0}); });
  EXPECT_EQ(ran.out,
            "/dev/null character special file 1:3 666\n"
            "/dev/zero character special file 1:5 666\n"
            "/dev/full character special file 1:7 666\n"
            "/dev/random character special file 1:8 666\n"
            "/dev/urandom character special file 1:9 666\n"
            "/dev/tty character special file 5:0 666\n"
            "/dev/fuse character special file a:e5 600\n"
            "/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\nnull-ok\n")
      << ran.err;
}

// An image may carry its own /dev, with symlinks where the device nodes go,
// pointing into the host or at the image's own files: the container's /dev is
// a fresh tmpfs, so the nodes are made there and nothing the symlinks name is
// touched.
TEST_F(RootfsTest, SymlinksInTheImagesDevRedirectNothing) {
  fs::create_directories(rootfs_.path() / "dev");
  fs::create_directories(rootfs_.path() / "etc");
  std::ofstream(rootfs_.path() / "etc/precious") << "keep me\n";
  TempDir host;
  std::ofstream(host.path() / "target") << "host file\n";
  fs::create_symlink("/etc/precious", rootfs_.path() / "dev/null");
  fs::create_symlink(host.path() / "target", rootfs_.path() / "dev/zero");
  fs::create_symlink("../etc", rootfs_.path() / "dev/pts");
  auto ran = sh("stat -c '%n %F %t:%T' /dev/null /dev/zero; echo x > /dev/null; cat /etc/precious");
  EXPECT_EQ(ran.out,
            "/dev/null character special file 1:3\n"
            "/dev/zero character special file 1:5\n"
            "keep me\n")
      << ran.err;
  EXPECT_EQ(slurp(rootfs_.path() / "etc/precious"), "keep me\n");
  EXPECT_EQ(slurp(host.path() / "target"), "host file\n");
  EXPECT_TRUE(fs::is_symlink(rootfs_.path() / "dev/null")) << "the image's own /dev is left as it was";
}

TEST_F(RootfsTest, DevShmIsAWritableTmpfs) {
  auto ran = sh("touch /dev/shm/x && echo shm-ok; grep ' /dev/shm ' /proc/self/mountinfo | grep -c tmpfs");
  EXPECT_EQ(ran.out, "shm-ok\n1\n") << ran.err;
}

TEST_F(RootfsTest, ReadonlyRootIsNotWritableButItsMountsAre) {
  auto ran = sh("touch /x 2>/dev/null && echo root-writable || echo root-readonly; touch /dev/shm/y && echo shm-ok",
                [](oci::Spec& s) { s.root.readonly = true; });
  EXPECT_EQ(ran.out, "root-readonly\nshm-ok\n") << ran.err;
  EXPECT_FALSE(fs::exists(rootfs_ / "x"));
}

TEST_F(RootfsTest, MaskedPathsAreEmptyAndMissingOnesAreSkipped) {
  // /proc/kcore is masked by every runtime but missing on some kernels: it is skipped then.
  auto ran = sh("cat /proc/version | wc -c; cat /proc/kcore 2>/dev/null | wc -c; ls -A /proc/driver | wc -l; "
                "touch /proc/driver/x 2>/dev/null || echo driver-readonly",
                [](oci::Spec& s) {
                  s.linux_config.masked_paths = {"/proc/version", "/proc/kcore", "/proc/driver", "/no/such/path"};
                });
  EXPECT_EQ(ran.out, "0\n0\n0\ndriver-readonly\n") << ran.err;
}

TEST_F(RootfsTest, ReadonlyPathsAreNotWritableAndSysctlsAreWrittenBefore) {
  auto ran = sh("cat /proc/sys/kernel/domainname /proc/sys/kernel/msgmax; "
                "echo x 2>/dev/null > /proc/sys/kernel/msgmax && echo writable || echo readonly; "
                "grep -c ' /proc/sys ro,' /proc/self/mountinfo",
                [](oci::Spec& s) {
                  s.linux_config.sysctl = {{"kernel.domainname", "sysctl.example"}, {"kernel.msgmax", "4096"}};
                  s.linux_config.readonly_paths = {"/proc/sys", "/proc/sysrq-trigger", "/proc/no-such"};
                });
  EXPECT_EQ(ran.out, "sysctl.example\n4096\nreadonly\n1\n") << ran.err;
}

// The launcher's own fds, inheritable or not, stay outside.
TEST_F(RootfsTest, OnlyStdioIsOpenInTheTask) {
  UniqueFd leaky(::open("/dev/null", O_RDONLY));
  ASSERT_TRUE(leaky);
  auto ran = run(spec({"ls", "/proc/self/fd"}));
  EXPECT_EQ(ran.out, "0\n1\n2\n3\n") << ran.err;  // 3: the directory ls is reading
  leaky.reset();
}

TEST_F(RootfsTest, TheProgramIsLookedUpInTheContainersPath) {
  fs::create_directories(rootfs_ / "opt/tools");
  testing::write_text(rootfs_ / "opt/tools/inside-only", "#!/bin/sh\necho found inside\n");
  fs::permissions(rootfs_ / "opt/tools/inside-only", fs::perms::owner_all | fs::perms::others_exec | fs::perms::others_read);
  auto s = spec({"inside-only"});
  s.process.env = {"PATH=/opt/tools:/bin"};
  auto ran = run(std::move(s));
  EXPECT_EQ(ran.out, "found inside\n") << ran.err;
}

TEST_F(RootfsTest, AnUnknownExecutableIsAnExecveError) {
  auto error = launch_error(spec({"no-such-program", "arg"}));
  EXPECT_EQ(error.message(), "execve");
  EXPECT_EQ(error.code(), ENOENT);
  EXPECT_EQ(error.path(), "no-such-program");
}

TEST_F(RootfsTest, AMissingBindSourceNamesTheMountDestination) {
  auto s = spec({"true"});
  s.mounts.push_back({"/data", "bind", "/no/such/source", {"rbind"}});
  auto error = launch_error(std::move(s));
  EXPECT_EQ(error.what(), "mount '/data': No such file or directory");
}

TEST_F(RootfsTest, AnUnknownMountOptionIsRejectedBeforeCloning) {
  auto s = spec({"true"});
  s.mounts[1].options.push_back("ptmxmode");
  auto error = launch_error(std::move(s));
  EXPECT_EQ(error.message(), "mounts[1].options: unknown mount option 'ptmxmode'");
}

TEST_F(RootfsTest, ARelativeRootfsIsRejected) {
  auto s = spec({"true"});
  s.root.path = "rootfs";
  EXPECT_EQ(launch_error(std::move(s)).message(), "root.path: 'rootfs' is not an absolute path");
}

}  // namespace
}  // namespace berth::launcher
