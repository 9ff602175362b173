#include "berth/launcher/oci_spec.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "support/temp_dir.hpp"

namespace berth::launcher::oci {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using berth::testing::TempDir;
using berth::testing::write_text;
using ::testing::HasSubstr;

// What `runc spec` writes, adapted: a non-root user, a rootless-style user
// namespace, devices, sysctls, and the keys Berth ignores (hooks,
// annotations, resources, seccomp, a vendor extension).
constexpr std::string_view kFullConfig = R"({
  "ociVersion": "1.2.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 27]},
    "args": ["/usr/bin/redis-server", "--port", "6379"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/data",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "inheritable": [],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_NET_BIND_SERVICE", "CAP_CHECKPOINT_RESTORE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}
    ],
    "noNewPrivileges": true,
    "oomScoreAdj": -500,
    "apparmorProfile": "berth-default"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "redis-0",
  "domainname": "cache.example",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/etc/redis", "type": "bind", "source": "conf", "options": ["rbind", "ro"]}
  ],
  "hooks": {"createRuntime": [{"path": "/usr/bin/netns-setup"}]},
  "annotations": {"org.example.tier": "cache"},
  "org.example.extension": {"anything": [1, 2, 3]},
  "linux": {
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/redis"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}, {"type": "time"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
      {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
      {"path": "/dev/initctl", "type": "p"}
    ],
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "68719476736"},
    "cgroupsPath": "/berth/redis-0",
    "resources": {"memory": {"limit": 536870912}, "pids": {"limit": 1024}},
    "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]},
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore", "/proc/keys"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    "mountLabel": "system_u:object_r:container_file_t:s0"
  }
})";

// The smallest config that parses and validates.
json::value minimal_config() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": "rootfs"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
  })");
}

template <typename T>
std::string error_of(const Result<T>& result) {
  return result ? "(no error)" : result.error().what();
}

class OciBundleTest : public ::testing::Test {
 protected:
  OciBundleTest() { fs::create_directory(bundle_.path() / "rootfs"); }

  Result<Spec> parse(const json::value& config) const { return parse_spec(json::serialize(config), bundle()); }

  // A parsed minimal config after `edit`.
  Spec spec(const std::function<void(Spec&)>& edit = {}) const {
    auto parsed = parse(minimal_config());
    EXPECT_TRUE(parsed) << error_of(parsed);
    Spec out = parsed.value_or(Spec{});
    if (edit) edit(out);
    return out;
  }

  const fs::path& bundle() const { return bundle_.path(); }

 private:
  TempDir bundle_;
};

// ---------------------------------------------------------------------------
// Parsing.

using OciParseTest = OciBundleTest;

TEST_F(OciParseTest, FullConfigDecodesEveryField) {
  auto parsed = parse_spec(kFullConfig, bundle());
  ASSERT_TRUE(parsed) << error_of(parsed);
  const Spec& spec = *parsed;
  EXPECT_EQ(spec.oci_version, "1.2.0");

  const Process& p = spec.process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1000u);
  EXPECT_EQ(p.user.umask, 022u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<std::uint32_t>{5, 27}));
  EXPECT_EQ(p.args, (std::vector<std::string>{"/usr/bin/redis-server", "--port", "6379"}));
  ASSERT_EQ(p.env.size(), 2u);
  EXPECT_EQ(p.env[1], "TERM=xterm");
  EXPECT_EQ(p.cwd, "/data");
  ASSERT_TRUE(p.capabilities.has_value());
  EXPECT_EQ(p.capabilities->bounding, (std::vector<int>{29, 5, 10}));  // AUDIT_WRITE, KILL, NET_BIND_SERVICE
  EXPECT_EQ(p.capabilities->effective, p.capabilities->bounding);
  EXPECT_EQ(p.capabilities->permitted, p.capabilities->bounding);
  EXPECT_TRUE(p.capabilities->inheritable.empty());
  EXPECT_EQ(p.capabilities->ambient, (std::vector<int>{10, 40}));  // NET_BIND_SERVICE, CHECKPOINT_RESTORE
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[1].resource, RLIMIT_CORE);
  EXPECT_EQ(p.rlimits[1].hard, RLIM_INFINITY);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.oom_score_adj, -500);

  EXPECT_EQ(spec.root.path, bundle() / "rootfs");
  EXPECT_TRUE(spec.root.readonly);
  EXPECT_EQ(spec.hostname, "redis-0");
  EXPECT_EQ(spec.domainname, "cache.example");

  ASSERT_EQ(spec.mounts.size(), 5u);
  EXPECT_EQ(spec.mounts[0].destination, "/proc");
  EXPECT_EQ(spec.mounts[0].type, "proc");
  EXPECT_EQ(spec.mounts[0].source, "proc");
  EXPECT_TRUE(spec.mounts[0].options.empty());
  EXPECT_EQ(spec.mounts[1].options, (std::vector<std::string>{"nosuid", "strictatime", "mode=755", "size=65536k"}));
  EXPECT_EQ(spec.mounts[3].source, "/sys");
  EXPECT_EQ(spec.mounts[4].source, (bundle() / "conf").string());  // bind source relative to the bundle

  const Linux& linux_config = spec.linux_config;
  ASSERT_EQ(linux_config.namespaces.size(), 8u);
  EXPECT_EQ(linux_config.namespaces[0].type, CLONE_NEWPID);
  EXPECT_EQ(linux_config.namespaces[1].type, CLONE_NEWNET);
  EXPECT_EQ(linux_config.namespaces[1].path, "/var/run/netns/redis");
  EXPECT_EQ(linux_config.new_namespace_flags(),
            CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWTIME);
  EXPECT_TRUE(linux_config.has_namespace(CLONE_NEWNET));
  ASSERT_EQ(linux_config.uid_mappings.size(), 1u);
  EXPECT_EQ(linux_config.uid_mappings[0].container_id, 0u);
  EXPECT_EQ(linux_config.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(linux_config.uid_mappings[0].size, 65536u);
  EXPECT_EQ(linux_config.gid_mappings.size(), 1u);
  ASSERT_EQ(linux_config.devices.size(), 3u);
  EXPECT_EQ(linux_config.devices[0].type, 'c');
  EXPECT_EQ(linux_config.devices[0].path, "/dev/fuse");
  EXPECT_EQ(linux_config.devices[0].major, 10);
  EXPECT_EQ(linux_config.devices[0].minor, 229);
  EXPECT_EQ(linux_config.devices[0].file_mode, 0666u);
  EXPECT_EQ(linux_config.devices[0].uid, 0u);
  EXPECT_EQ(linux_config.devices[1].type, 'b');
  EXPECT_FALSE(linux_config.devices[1].file_mode.has_value());
  EXPECT_EQ(linux_config.devices[2].type, 'p');
  EXPECT_EQ(linux_config.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(linux_config.sysctl.at("kernel.shmmax"), "68719476736");
  EXPECT_EQ(linux_config.cgroups_path, "/berth/redis-0");
  EXPECT_EQ(linux_config.rootfs_propagation, "rslave");
  EXPECT_EQ(linux_config.masked_paths, (std::vector<std::string>{"/proc/kcore", "/proc/keys"}));
  EXPECT_EQ(linux_config.readonly_paths, (std::vector<std::string>{"/proc/sys", "/proc/sysrq-trigger"}));

  auto valid = validate(spec);
  EXPECT_TRUE(valid) << error_of(valid);
}

TEST_F(OciParseTest, MinimalConfigKeepsDefaults) {
  auto config = minimal_config();
  config.as_object().erase("root");
  config.as_object().erase("linux");
  auto parsed = parse(config);
  ASSERT_TRUE(parsed) << error_of(parsed);
  EXPECT_TRUE(parsed->root.path.empty());
  EXPECT_FALSE(parsed->process.capabilities.has_value());
  EXPECT_FALSE(parsed->process.oom_score_adj.has_value());
  EXPECT_FALSE(parsed->process.user.umask.has_value());
  EXPECT_FALSE(parsed->process.terminal);
  EXPECT_TRUE(parsed->mounts.empty());
  EXPECT_EQ(parsed->linux_config.new_namespace_flags(), 0);
}

// Go writes nil slices as null; they mean "not set".
TEST_F(OciParseTest, NullMembersAreTreatedAsAbsent) {
  auto config = minimal_config();
  config.at_pointer("/process").as_object()["env"] = nullptr;
  config.as_object()["mounts"] = nullptr;
  config.at_pointer("/linux").as_object()["maskedPaths"] = nullptr;
  auto parsed = parse(config);
  ASSERT_TRUE(parsed) << error_of(parsed);
  EXPECT_TRUE(parsed->process.env.empty());
  EXPECT_TRUE(parsed->mounts.empty());
}

TEST_F(OciParseTest, AbsoluteRootPathIsKept) {
  auto config = minimal_config();
  config.at_pointer("/root/path") = "/srv/images/alpine";
  auto parsed = parse(config);
  ASSERT_TRUE(parsed) << error_of(parsed);
  EXPECT_EQ(parsed->root.path, "/srv/images/alpine");
}

TEST_F(OciParseTest, OnlyBindMountSourcesAreResolvedAgainstTheBundle) {
  auto config = minimal_config();
  config.as_object()["mounts"] = json::parse(R"([
    {"destination": "/a", "source": "data", "options": ["bind"]},
    {"destination": "/b", "type": "tmpfs", "source": "tmpfs"}])");
  auto parsed = parse(config);
  ASSERT_TRUE(parsed) << error_of(parsed);
  EXPECT_EQ(parsed->mounts[0].source, (bundle() / "data").string());
  EXPECT_EQ(parsed->mounts[1].source, "tmpfs");
}

TEST_F(OciParseTest, FifoDeviceNeedsNoNumbers) {
  auto config = minimal_config();
  config.at_pointer("/linux").as_object()["devices"] = json::parse(R"([{"type": "p", "path": "/dev/f"}])");
  auto parsed = parse(config);
  ASSERT_TRUE(parsed) << error_of(parsed);
  EXPECT_EQ(parsed->linux_config.devices[0].major, 0);
}

TEST_F(OciParseTest, InvalidJsonReportsWhereAndWhy) {
  auto parsed = parse_spec("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {,}\n}", bundle());
  ASSERT_FALSE(parsed);
  EXPECT_THAT(error_of(parsed), HasSubstr("config.json: invalid JSON at line 3, column 15: syntax error"));
}

TEST_F(OciParseTest, TruncatedJsonIsReported) {
  auto parsed = parse_spec(R"({"ociVersion": "1.0.2")", bundle());
  ASSERT_FALSE(parsed);
  EXPECT_THAT(error_of(parsed), HasSubstr("config.json: invalid JSON"));
  EXPECT_THAT(error_of(parsed), HasSubstr("incomplete"));
}

TEST_F(OciParseTest, TopLevelMustBeAnObject) {
  EXPECT_EQ(error_of(parse_spec("[1, 2]", bundle())), "config.json: expected a JSON object at the top level");
}

// Each case edits the minimal config into one mistake; the error must name the field.
struct ParseErrorCase {
  std::string name;
  std::function<void(json::value&)> edit;
  std::string message;
};

void PrintTo(const ParseErrorCase& c, std::ostream* out) { *out << c.name; }

class OciParseErrorTest : public OciBundleTest, public ::testing::WithParamInterface<ParseErrorCase> {};

TEST_P(OciParseErrorTest, NamesTheField) {
  auto config = minimal_config();
  GetParam().edit(config);
  auto parsed = parse(config);
  ASSERT_FALSE(parsed) << "accepted: " << json::serialize(config);
  EXPECT_EQ(error_of(parsed), "config.json: " + GetParam().message);
}

json::object& obj(json::value& config, std::string_view pointer) { return config.at_pointer(pointer).as_object(); }

INSTANTIATE_TEST_SUITE_P(
    , OciParseErrorTest,
    ::testing::Values(
        ParseErrorCase{"MissingOciVersion", [](json::value& c) { c.as_object().erase("ociVersion"); },
                       "ociVersion: required field is missing"},
        ParseErrorCase{"MissingProcess", [](json::value& c) { c.as_object().erase("process"); },
                       "process: required field is missing"},
        ParseErrorCase{"ArgNotString", [](json::value& c) { c.at_pointer("/process/args") = {"sh", 5}; },
                       "process.args[1]: expected a string"},
        ParseErrorCase{"ArgWithNul", [](json::value& c) { c.at_pointer("/process/args/0") = std::string("s\0h", 3); },
                       "process.args[0]: expected a string without NUL characters"},
        ParseErrorCase{"MissingArgs", [](json::value& c) { obj(c, "/process").erase("args"); },
                       "process.args: required field is missing"},
        ParseErrorCase{"ArgsNotArray", [](json::value& c) { c.at_pointer("/process/args") = "sh"; },
                       "process.args: expected an array"},
        ParseErrorCase{"MissingCwd", [](json::value& c) { obj(c, "/process").erase("cwd"); },
                       "process.cwd: required field is missing"},
        ParseErrorCase{"TerminalNotBool", [](json::value& c) { obj(c, "/process")["terminal"] = "yes"; },
                       "process.terminal: expected true or false"},
        ParseErrorCase{"NegativeUid", [](json::value& c) { c.at_pointer("/process/user/uid") = -1; },
                       "process.user.uid: expected a non-negative integer below 2^32"},
        ParseErrorCase{"UidTooLarge", [](json::value& c) { c.at_pointer("/process/user/uid") = 4294967296LL; },
                       "process.user.uid: expected a non-negative integer below 2^32"},
        ParseErrorCase{"UidAsFloat", [](json::value& c) { c.at_pointer("/process/user/uid") = 1.0; },
                       "process.user.uid: expected a non-negative integer below 2^32"},
        ParseErrorCase{"MissingGid", [](json::value& c) { obj(c, "/process/user").erase("gid"); },
                       "process.user.gid: required field is missing"},
        ParseErrorCase{"AdditionalGidNotNumber",
                       [](json::value& c) { obj(c, "/process/user")["additionalGids"] = {1, "wheel"}; },
                       "process.user.additionalGids[1]: expected a non-negative integer below 2^32"},
        ParseErrorCase{"UmaskTooLarge", [](json::value& c) { obj(c, "/process/user")["umask"] = 01000; },
                       "process.user.umask: expected a file mode creation mask from 0 to 0777 (511)"},
        ParseErrorCase{"UnknownCapability",
                       [](json::value& c) {
                         obj(c, "/process")["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_FLY"}}};
                       },
                       "process.capabilities.bounding[1]: unknown capability 'CAP_FLY'"},
        ParseErrorCase{"CapabilitySetNotArray",
                       [](json::value& c) { obj(c, "/process")["capabilities"] = {{"ambient", "CAP_KILL"}}; },
                       "process.capabilities.ambient: expected an array"},
        ParseErrorCase{"UnknownRlimit",
                       [](json::value& c) {
                         obj(c, "/process")["rlimits"] = json::parse(R"([{"type": "RLIMIT_FUN", "soft": 1, "hard": 1}])");
                       },
                       "process.rlimits[0].type: unknown rlimit type 'RLIMIT_FUN'"},
        ParseErrorCase{"RlimitSoftAboveHard",
                       [](json::value& c) {
                         obj(c, "/process")["rlimits"] =
                             json::parse(R"([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])");
                       },
                       "process.rlimits[0]: soft limit 2048 exceeds hard limit 1024"},
        ParseErrorCase{"RlimitMissingHard",
                       [](json::value& c) {
                         obj(c, "/process")["rlimits"] = json::parse(R"([{"type": "RLIMIT_NOFILE", "soft": 1}])");
                       },
                       "process.rlimits[0].hard: required field is missing"},
        ParseErrorCase{"DuplicateRlimit",
                       [](json::value& c) {
                         obj(c, "/process")["rlimits"] = json::parse(R"([
                           {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                           {"type": "RLIMIT_NPROC", "soft": 1, "hard": 1},
                           {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}])");
                       },
                       "process.rlimits[2].type: duplicate RLIMIT_NOFILE (also in process.rlimits[0])"},
        ParseErrorCase{"OomScoreAdjOutOfRange", [](json::value& c) { obj(c, "/process")["oomScoreAdj"] = 1001; },
                       "process.oomScoreAdj: expected an integer from -1000 to 1000"},
        ParseErrorCase{"RootNotObject", [](json::value& c) { c.as_object()["root"] = "rootfs"; },
                       "root: expected an object"},
        ParseErrorCase{"RootWithoutPath", [](json::value& c) { obj(c, "/root").erase("path"); },
                       "root.path: required field is missing"},
        ParseErrorCase{"RootPathEmpty", [](json::value& c) { c.at_pointer("/root/path") = ""; },
                       "root.path: must not be empty (leave out root to keep the host's root filesystem)"},
        ParseErrorCase{"HostnameNotString", [](json::value& c) { c.as_object()["hostname"] = 7; },
                       "hostname: expected a string"},
        ParseErrorCase{"MountsNotArray", [](json::value& c) { c.as_object()["mounts"] = {{"destination", "/x"}}; },
                       "mounts: expected an array"},
        ParseErrorCase{"MountWithoutDestination",
                       [](json::value& c) { c.as_object()["mounts"] = json::parse(R"([{"type": "proc"}])"); },
                       "mounts[0].destination: required field is missing"},
        ParseErrorCase{"MountOptionNotString",
                       [](json::value& c) {
                         c.as_object()["mounts"] = json::parse(R"([{"destination": "/t", "options": ["ro", true]}])");
                       },
                       "mounts[0].options[1]: expected a string"},
        ParseErrorCase{"LinuxNotObject", [](json::value& c) { c.as_object()["linux"] = json::array(); },
                       "linux: expected an object"},
        ParseErrorCase{"UnknownNamespace", [](json::value& c) { c.at_pointer("/linux/namespaces/2/type") = "pidd"; },
                       "linux.namespaces[2].type: unknown namespace type 'pidd'"},
        ParseErrorCase{"NamespaceWithoutType",
                       [](json::value& c) { obj(c, "/linux/namespaces/1").erase("type"); },
                       "linux.namespaces[1].type: required field is missing"},
        ParseErrorCase{"DuplicateNamespace", [](json::value& c) { c.at_pointer("/linux/namespaces/2/type") = "pid"; },
                       "linux.namespaces[2].type: duplicate namespace type 'pid' (also in linux.namespaces[0])"},
        ParseErrorCase{"MappingSizeNotNumber",
                       [](json::value& c) {
                         obj(c, "/linux")["gidMappings"] =
                             json::parse(R"([{"containerID": 0, "hostID": 1000, "size": "1"}])");
                       },
                       "linux.gidMappings[0].size: expected a non-negative integer below 2^32"},
        ParseErrorCase{"MappingWithoutHostId",
                       [](json::value& c) {
                         obj(c, "/linux")["uidMappings"] = json::parse(R"([{"containerID": 0, "size": 1}])");
                       },
                       "linux.uidMappings[0].hostID: required field is missing"},
        ParseErrorCase{"UnknownDeviceType",
                       [](json::value& c) {
                         obj(c, "/linux")["devices"] =
                             json::parse(R"([{"type": "x", "path": "/dev/x", "major": 1, "minor": 1}])");
                       },
                       "linux.devices[0].type: unknown device type 'x' (expected c, b, u or p)"},
        ParseErrorCase{"CharDeviceWithoutMajor",
                       [](json::value& c) {
                         obj(c, "/linux")["devices"] = json::parse(R"([{"type": "c", "path": "/dev/x", "minor": 1}])");
                       },
                       "linux.devices[0].major: required field is missing"},
        ParseErrorCase{"DeviceModeNegative",
                       [](json::value& c) {
                         obj(c, "/linux")["devices"] =
                             json::parse(R"([{"type": "p", "path": "/dev/f", "fileMode": -1}])");
                       },
                       "linux.devices[0].fileMode: expected a non-negative integer below 2^32"},
        ParseErrorCase{"SysctlValueNotString",
                       [](json::value& c) { obj(c, "/linux")["sysctl"] = {{"net.ipv4.ip_forward", 1}}; },
                       "linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string"},
        ParseErrorCase{"SysctlNotObject", [](json::value& c) { obj(c, "/linux")["sysctl"] = json::array(); },
                       "linux.sysctl: expected an object"},
        ParseErrorCase{"MaskedPathNotString", [](json::value& c) { obj(c, "/linux")["maskedPaths"] = {"/a", 1}; },
                       "linux.maskedPaths[1]: expected a string"},
        ParseErrorCase{"UnknownPropagation",
                       [](json::value& c) { obj(c, "/linux")["rootfsPropagation"] = "sideways"; },
                       "linux.rootfsPropagation: unknown propagation 'sideways' (expected private, rprivate, slave, "
                       "rslave, shared, rshared, unbindable or runbindable)"}),
    [](const ::testing::TestParamInfo<ParseErrorCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Validation.

using OciValidateTest = OciBundleTest;

TEST_F(OciValidateTest, MinimalConfigIsValid) {
  auto valid = validate(spec());
  EXPECT_TRUE(valid) << error_of(valid);
}

TEST_F(OciValidateTest, HostRootNeedsNoDirectory) {
  auto valid = validate(spec([](Spec& s) { s.root.path.clear(); }));
  EXPECT_TRUE(valid) << error_of(valid);
}

TEST_F(OciValidateTest, MissingRootNamesThePath) {
  auto missing = bundle() / "nope";
  EXPECT_EQ(error_of(validate(spec([&](Spec& s) { s.root.path = missing; }))),
            "root.path: '" + missing.string() + "' does not exist");
}

TEST_F(OciValidateTest, RootThatIsAFileIsRejected) {
  auto file = bundle() / "rootfs.tar";
  write_text(file, "not a directory");
  EXPECT_EQ(error_of(validate(spec([&](Spec& s) { s.root.path = file; }))),
            "root.path: '" + file.string() + "' is not a directory");
}

TEST_F(OciValidateTest, UnreadableRootReportsTheSystemError) {
  auto loop = bundle() / "loop";
  fs::create_symlink(loop, loop);
  EXPECT_EQ(error_of(validate(spec([&](Spec& s) { s.root.path = loop; }))),
            "root.path: stat '" + loop.string() + "': Too many levels of symbolic links");
}

// Each case edits a valid Spec into one mistake; the error must name the field.
struct ValidateErrorCase {
  std::string name;
  std::function<void(Spec&)> edit;
  std::string message;
};

void PrintTo(const ValidateErrorCase& c, std::ostream* out) { *out << c.name; }

class OciValidateErrorTest : public OciBundleTest, public ::testing::WithParamInterface<ValidateErrorCase> {};

TEST_P(OciValidateErrorTest, NamesTheField) {
  EXPECT_EQ(error_of(validate(spec(GetParam().edit))), GetParam().message);
}

void add_namespace(Spec& s, int type, std::string path = {}) {
  s.linux_config.namespaces.push_back({.type = type, .path = std::move(path)});
}

void map_ids(Spec& s) {
  s.linux_config.uid_mappings = {{.container_id = 0, .host_id = 100000, .size = 65536}};
  s.linux_config.gid_mappings = {{.container_id = 0, .host_id = 100000, .size = 65536}};
}

Mount mount_at(std::string destination) {
  Mount mount;
  mount.destination = std::move(destination);
  return mount;
}

Device device(char type, std::string path) {
  Device out;
  out.type = type;
  out.path = std::move(path);
  return out;
}

void drop_uts(Spec& s) { std::erase_if(s.linux_config.namespaces, [](auto& ns) { return ns.type == CLONE_NEWUTS; }); }

INSTANTIATE_TEST_SUITE_P(
    , OciValidateErrorTest,
    ::testing::Values(
        ValidateErrorCase{"EmptyArgs", [](Spec& s) { s.process.args.clear(); },
                          "process.args: must name the program to run (it is empty)"},
        ValidateErrorCase{"RelativeCwd", [](Spec& s) { s.process.cwd = "data"; },
                          "process.cwd: 'data' is not an absolute path"},
        ValidateErrorCase{"EnvWithoutEquals", [](Spec& s) { s.process.env.push_back("DEBUG"); },
                          "process.env[1]: 'DEBUG' is not KEY=VALUE"},
        ValidateErrorCase{"EnvWithoutName", [](Spec& s) { s.process.env.push_back("=1"); },
                          "process.env[1]: '=1' is not KEY=VALUE"},
        ValidateErrorCase{"RelativeRoot", [](Spec& s) { s.root.path = "rootfs"; },
                          "root.path: 'rootfs' is not an absolute path"},
        ValidateErrorCase{"RelativeMountDestination",
                          [](Spec& s) { s.mounts = {mount_at("/proc"), mount_at("tmp")}; },
                          "mounts[1].destination: 'tmp' is not an absolute path"},
        ValidateErrorCase{"HostnameWithoutUts",
                          [](Spec& s) {
                            drop_uts(s);
                            s.hostname = "web";
                          },
                          "hostname: set without a new uts namespace in linux.namespaces (it would rename the host)"},
        ValidateErrorCase{"HostnameWithJoinedUts",
                          [](Spec& s) {
                            drop_uts(s);
                            add_namespace(s, CLONE_NEWUTS, "/proc/1/ns/uts");
                            s.hostname = "web";
                          },
                          "hostname: set without a new uts namespace in linux.namespaces (it would rename the host)"},
        ValidateErrorCase{"DomainnameWithoutUts",
                          [](Spec& s) {
                            drop_uts(s);
                            s.domainname = "example";
                          },
                          "domainname: set without a new uts namespace in linux.namespaces (it would rename the "
                          "host)"},
        ValidateErrorCase{"RelativeNamespacePath", [](Spec& s) { add_namespace(s, CLONE_NEWNET, "netns/a"); },
                          "linux.namespaces[3].path: 'netns/a' is not an absolute path"},
        ValidateErrorCase{"UidMappingsWithoutUserNamespace",
                          [](Spec& s) { s.linux_config.uid_mappings = {{.size = 1}}; },
                          "linux.uidMappings: set without a user namespace in linux.namespaces"},
        ValidateErrorCase{"GidMappingsWithoutUserNamespace",
                          [](Spec& s) { s.linux_config.gid_mappings = {{.size = 1}}; },
                          "linux.gidMappings: set without a user namespace in linux.namespaces"},
        ValidateErrorCase{"UserNamespaceWithoutUidMappings", [](Spec& s) { add_namespace(s, CLONE_NEWUSER); },
                          "linux.uidMappings: required to create a user namespace"},
        ValidateErrorCase{"UserNamespaceWithoutGidMappings",
                          [](Spec& s) {
                            add_namespace(s, CLONE_NEWUSER);
                            map_ids(s);
                            s.linux_config.gid_mappings.clear();
                          },
                          "linux.gidMappings: required to create a user namespace"},
        ValidateErrorCase{"EmptyMapping",
                          [](Spec& s) {
                            add_namespace(s, CLONE_NEWUSER);
                            map_ids(s);
                            s.linux_config.uid_mappings.push_back({.container_id = 70000, .host_id = 1, .size = 0});
                          },
                          "linux.uidMappings[1].size: must be greater than 0"},
        ValidateErrorCase{"MappingPast32Bits",
                          [](Spec& s) {
                            add_namespace(s, CLONE_NEWUSER);
                            map_ids(s);
                            s.linux_config.gid_mappings[0].host_id = 4294967295u;
                          },
                          "linux.gidMappings[0]: hostID + size exceeds 2^32"},
        ValidateErrorCase{"OverlappingMappings",
                          [](Spec& s) {
                            add_namespace(s, CLONE_NEWUSER);
                            map_ids(s);
                            s.linux_config.uid_mappings.push_back({.container_id = 65535, .host_id = 0, .size = 2});
                          },
                          "linux.uidMappings[1]: overlaps linux.uidMappings[0]"},
        ValidateErrorCase{"RelativeDevicePath",
                          [](Spec& s) { s.linux_config.devices = {device('c', "dev/null")}; },
                          "linux.devices[0].path: 'dev/null' is not an absolute path"},
        ValidateErrorCase{"DeviceOutsideDev",
                          [](Spec& s) { s.linux_config.devices = {device('c', "/etc/null")}; },
                          "linux.devices[0].path: '/etc/null' is not under /dev"},
        ValidateErrorCase{"DeviceEscapingDev",
                          [](Spec& s) { s.linux_config.devices = {device('b', "/dev/../etc/sda")}; },
                          "linux.devices[0].path: '/dev/../etc/sda' is not under /dev"},
        ValidateErrorCase{"DeviceAtDevItself", [](Spec& s) { s.linux_config.devices = {device('p', "/dev")}; },
                          "linux.devices[0].path: '/dev' is not under /dev"},
        ValidateErrorCase{"RelativeMaskedPath",
                          [](Spec& s) { s.linux_config.masked_paths = {"/proc/kcore", "proc/keys"}; },
                          "linux.maskedPaths[1]: 'proc/keys' is not an absolute path"},
        ValidateErrorCase{"RelativeReadonlyPath", [](Spec& s) { s.linux_config.readonly_paths = {"proc/sys"}; },
                          "linux.readonlyPaths[0]: 'proc/sys' is not an absolute path"},
        ValidateErrorCase{"HostWideSysctl", [](Spec& s) { s.linux_config.sysctl["vm.swappiness"] = "10"; },
                          "linux.sysctl[\"vm.swappiness\"]: not a namespaced sysctl, so setting it would change the "
                          "host (allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* with an ipc namespace; "
                          "net.* with a network namespace; kernel.hostname, kernel.domainname with a new uts "
                          "namespace)"},
        ValidateErrorCase{"NetSysctlWithoutNetworkNamespace",
                          [](Spec& s) { s.linux_config.sysctl["net.ipv4.ip_forward"] = "1"; },
                          "linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace in linux.namespaces"},
        ValidateErrorCase{"IpcSysctlWithoutIpcNamespace",
                          [](Spec& s) { s.linux_config.sysctl["kernel.shmmax"] = "1024"; },
                          "linux.sysctl[\"kernel.shmmax\"]: needs an ipc namespace in linux.namespaces"},
        ValidateErrorCase{"MqueueSysctlWithoutIpcNamespace",
                          [](Spec& s) { s.linux_config.sysctl["fs.mqueue.msg_max"] = "64"; },
                          "linux.sysctl[\"fs.mqueue.msg_max\"]: needs an ipc namespace in linux.namespaces"},
        ValidateErrorCase{"UtsSysctlWithJoinedUts",
                          [](Spec& s) {
                            drop_uts(s);
                            add_namespace(s, CLONE_NEWUTS, "/proc/1/ns/uts");
                            s.linux_config.sysctl["kernel.hostname"] = "web";
                          },
                          "linux.sysctl[\"kernel.hostname\"]: needs a new uts namespace in linux.namespaces"},
        ValidateErrorCase{"SysctlEscapingProcSys",
                          [](Spec& s) {
                            add_namespace(s, CLONE_NEWNET);
                            s.linux_config.sysctl["net.x/../../../etc/passwd"] = "1";
                          },
                          "linux.sysctl[\"net.x/../../../etc/passwd\"]: malformed sysctl name"}),
    [](const ::testing::TestParamInfo<ValidateErrorCase>& info) { return info.param.name; });

TEST_F(OciValidateTest, NamespacedSysctlsAreAccepted) {
  auto valid = validate(spec([](Spec& s) {
    add_namespace(s, CLONE_NEWNET, "/var/run/netns/a");  // joined: still the container's own
    add_namespace(s, CLONE_NEWIPC);
    s.linux_config.sysctl = {{"net.ipv4.conf.eth0/100.forwarding", "1"},
                             {"kernel.msgmax", "8192"},
                             {"kernel.sem", "250 32000 32 128"},
                             {"fs.mqueue.queues_max", "512"},
                             {"kernel.domainname", "example"}};
  }));
  EXPECT_TRUE(valid) << error_of(valid);
}

TEST_F(OciValidateTest, JoinedUserNamespaceNeedsNoMappings) {
  auto valid = validate(spec([](Spec& s) { add_namespace(s, CLONE_NEWUSER, "/proc/42/ns/user"); }));
  EXPECT_TRUE(valid) << error_of(valid);
}

TEST_F(OciValidateTest, HostnameWithNewUtsIsValid) {
  auto valid = validate(spec([](Spec& s) { s.hostname = "web-1"; }));
  EXPECT_TRUE(valid) << error_of(valid);
}

// ---------------------------------------------------------------------------
// Bundles on disk.

using OciLoadBundleTest = OciBundleTest;

TEST_F(OciLoadBundleTest, LoadsAndResolvesRoot) {
  write_text(bundle() / "config.json", json::serialize(minimal_config()));
  auto loaded = load_bundle(bundle());
  ASSERT_TRUE(loaded) << error_of(loaded);
  EXPECT_EQ(loaded->root.path, bundle() / "rootfs");
  EXPECT_EQ(loaded->process.args, std::vector<std::string>{"sh"});
}

TEST_F(OciLoadBundleTest, MissingBundleDirectory) {
  auto missing = bundle() / "gone";
  EXPECT_EQ(error_of(load_bundle(missing)), "bundle " + missing.string() + ": no such directory");
}

TEST_F(OciLoadBundleTest, BundleThatIsAFile) {
  auto file = bundle() / "config.json";
  write_text(file, "{}");
  EXPECT_EQ(error_of(load_bundle(file)), "bundle " + file.string() + ": not a directory");
}

TEST_F(OciLoadBundleTest, MissingConfigJson) {
  auto error = error_of(load_bundle(bundle()));
  EXPECT_THAT(error, HasSubstr("bundle " + bundle().string() + ": open"));
  EXPECT_THAT(error, HasSubstr((bundle() / "config.json").string()));
  EXPECT_THAT(error, HasSubstr("No such file or directory"));
}

TEST_F(OciLoadBundleTest, ConfigJsonThatIsADirectory) {
  fs::create_directory(bundle() / "config.json");
  auto error = error_of(load_bundle(bundle()));
  EXPECT_THAT(error, HasSubstr((bundle() / "config.json").string()));
  EXPECT_THAT(error, HasSubstr("Is a directory"));
}

TEST_F(OciLoadBundleTest, RootThatIsAFile) {
  fs::remove(bundle() / "rootfs");
  write_text(bundle() / "rootfs", "a tarball, not a directory");
  write_text(bundle() / "config.json", json::serialize(minimal_config()));
  EXPECT_EQ(error_of(load_bundle(bundle())), "bundle " + bundle().string() + ": config.json: root.path: '" +
                                                 (bundle() / "rootfs").string() + "' is not a directory");
}

TEST_F(OciLoadBundleTest, MissingRootDirectory) {
  fs::remove(bundle() / "rootfs");
  write_text(bundle() / "config.json", json::serialize(minimal_config()));
  EXPECT_THAT(error_of(load_bundle(bundle())), HasSubstr("root.path: '" + (bundle() / "rootfs").string() +
                                                         "' does not exist"));
}

TEST_F(OciLoadBundleTest, InvalidJsonNamesTheBundle) {
  write_text(bundle() / "config.json", "{\"ociVersion\": ");
  auto error = error_of(load_bundle(bundle()));
  EXPECT_THAT(error, HasSubstr("bundle " + bundle().string() + ": config.json: invalid JSON at line 1"));
}

TEST_F(OciLoadBundleTest, InvalidSpecIsRejected) {
  auto config = minimal_config();
  config.at_pointer("/process/cwd") = "work";
  write_text(bundle() / "config.json", json::serialize(config));
  EXPECT_EQ(error_of(load_bundle(bundle())),
            "bundle " + bundle().string() + ": config.json: process.cwd: 'work' is not an absolute path");
}

// ---------------------------------------------------------------------------
// Namespace names.

TEST(OciNamespaceTest, NamesAndFlagsRoundTrip) {
  const std::pair<std::string_view, int> expected[] = {
      {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET},   {"mount", CLONE_NEWNS},     {"ipc", CLONE_NEWIPC},
      {"uts", CLONE_NEWUTS}, {"user", CLONE_NEWUSER},     {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
  };
  for (auto [name, flag] : expected) {
    EXPECT_EQ(namespace_flag(name), flag) << name;
    EXPECT_EQ(namespace_name(flag), name) << name;
  }
}

TEST(OciNamespaceTest, UnknownNamesAndFlags) {
  EXPECT_EQ(namespace_flag("net"), std::nullopt);  // the spec says "network"
  EXPECT_EQ(namespace_flag("PID"), std::nullopt);
  EXPECT_EQ(namespace_flag(""), std::nullopt);
  EXPECT_EQ(namespace_name(0), "");
  EXPECT_EQ(namespace_name(CLONE_NEWPID | CLONE_NEWNS), "");
}

TEST(OciNamespaceTest, NewFlagsLeaveOutJoinedNamespaces) {
  Linux linux_config;
  linux_config.namespaces = {{CLONE_NEWPID, ""}, {CLONE_NEWNET, "/var/run/netns/a"}, {CLONE_NEWNS, ""}};
  EXPECT_EQ(linux_config.new_namespace_flags(), CLONE_NEWPID | CLONE_NEWNS);
  EXPECT_TRUE(linux_config.has_namespace(CLONE_NEWNET));
  EXPECT_TRUE(linux_config.has_namespace(CLONE_NEWPID));
  EXPECT_FALSE(linux_config.has_namespace(CLONE_NEWUSER));
}

}  // namespace
}  // namespace berth::launcher::oci
