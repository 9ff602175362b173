#include "run_options.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "app.hpp"
#include "berth/common/flags.hpp"

namespace berth::cli {
namespace {

struct Parsed {
  std::optional<int> stop;
  RunOptions options;
};

Parsed parse(std::vector<const char*> args) {
  CLI::App app;
  Parsed parsed;
  add_run_flags(app, parsed.options);
  flags::bind_env(app);
  args.insert(args.begin(), "run");
  auto split = split_at_double_dash(static_cast<int>(args.size()), args.data());
  parsed.options.command = split.command;
  parsed.stop = flags::parse(app, static_cast<int>(split.flags.size()), split.flags.data());
  return parsed;
}

// Runs the whole command line in-process, returning its exit code and stderr.
std::pair<int, std::string> berth(std::vector<const char*> args) {
  args.insert(args.begin(), "berth");
  ::testing::internal::CaptureStderr();
  int code = berth_main(static_cast<int>(args.size()), args.data());
  return {code, ::testing::internal::GetCapturedStderr()};
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST(RunOptions, DefaultsMatchTheDocumentedOnes) {
  auto parsed = parse({"--", "/bin/echo", "hello"});
  ASSERT_EQ(parsed.stop, std::nullopt);
  const auto& o = parsed.options;
  EXPECT_EQ(o.master, "127.0.0.1:5050");
  EXPECT_DOUBLE_EQ(o.cpus, 0.1);
  EXPECT_DOUBLE_EQ(o.mem_mb, 32);
  EXPECT_DOUBLE_EQ(o.disk_mb, 0);
  EXPECT_DOUBLE_EQ(o.offer_timeout_s, 30);
  EXPECT_DOUBLE_EQ(o.failover_timeout_s, 10);
  EXPECT_DOUBLE_EQ(o.master_timeout_s, 60);
  EXPECT_DOUBLE_EQ(o.kill_after_s, 0);
  EXPECT_EQ(o.framework_name, "berth-run");
  EXPECT_EQ(o.role, "*");
  EXPECT_FALSE(o.shell);
  EXPECT_FALSE(o.quiet);
  EXPECT_EQ(o.command, (std::vector<std::string>{"/bin/echo", "hello"}));
  EXPECT_TRUE(validate(o));
}

TEST(RunOptions, FlagsAfterTheDoubleDashBelongToTheCommand) {
  auto parsed = parse({"--cpus", "0.5", "--mem=64", "--env", "A=1", "--env", "B=2", "--shell", "--quiet",
                       "--kill_after", "3", "--", "ls", "-l", "--cpus", "9"});
  ASSERT_EQ(parsed.stop, std::nullopt);
  const auto& o = parsed.options;
  EXPECT_DOUBLE_EQ(o.cpus, 0.5);
  EXPECT_DOUBLE_EQ(o.mem_mb, 64);
  EXPECT_EQ(o.env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_TRUE(o.shell);
  EXPECT_TRUE(o.quiet);
  EXPECT_DOUBLE_EQ(o.kill_after_s, 3);
  EXPECT_EQ(o.command, (std::vector<std::string>{"ls", "-l", "--cpus", "9"}));
}

TEST(RunOptions, SplitsAtTheFirstDoubleDashOnly) {
  std::vector<const char*> argv{"berth", "run", "--cpus", "1", "--", "sh", "-c", "--", "x"};
  auto split = split_at_double_dash(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(split.flags, (std::vector<const char*>{"berth", "run", "--cpus", "1"}));
  EXPECT_EQ(split.command, (std::vector<std::string>{"sh", "-c", "--", "x"}));

  std::vector<const char*> no_dash{"berth", "run"};
  split = split_at_double_dash(2, no_dash.data());
  EXPECT_EQ(split.flags.size(), 2u);
  EXPECT_TRUE(split.command.empty());
}

TEST(RunOptions, EnvironmentSuppliesFlagsNotGiven) {
  ScopedEnv master("BERTH_MASTER", "10.0.0.1:5051");
  ScopedEnv mem("BERTH_MEM", "128");
  auto parsed = parse({"--mem", "256", "--", "true"});
  ASSERT_EQ(parsed.stop, std::nullopt);
  EXPECT_EQ(parsed.options.master, "10.0.0.1:5051");
  EXPECT_DOUBLE_EQ(parsed.options.mem_mb, 256) << "the flag wins over the environment";
}

TEST(RunOptions, PublishedPortsParseAndNameWhatIsWrong) {
  auto tcp = parse_publish("8080:80");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->host_port, 8080u);
  EXPECT_EQ(tcp->container_port, 80u);
  EXPECT_EQ(tcp->protocol, "tcp");
  EXPECT_EQ(parse_publish("5353:53/udp")->protocol, "udp");
  EXPECT_EQ(parse_publish("5353:53/sctp").error().what(), "--publish '5353:53/sctp': the protocol must be tcp or udp");
  EXPECT_EQ(parse_publish("80").error().what(), "--publish '80': expected HOST:CONTAINER[/udp]");
  EXPECT_EQ(parse_publish("0:80").error().what(), "--publish '0:80': ports are numbers from 1 to 65535");
  EXPECT_EQ(parse_publish("80:70000").error().what(), "--publish '80:70000': ports are numbers from 1 to 65535");
}

TEST(RunOptions, ValidationNamesTheBadFlag) {
  RunOptions o;
  o.command = {"true"};
  EXPECT_TRUE(validate(o));

  auto with = [&](auto change) {
    RunOptions copy = o;
    change(copy);
    auto result = validate(copy);
    return result ? std::string("ok") : result.error().message();
  };
  EXPECT_EQ(with([](RunOptions& x) { x.cpus = 0; }), "--cpus must be greater than 0 (got 0)");
  EXPECT_EQ(with([](RunOptions& x) { x.mem_mb = -1; }), "--mem must be greater than 0 (got -1)");
  EXPECT_EQ(with([](RunOptions& x) { x.disk_mb = -5; }), "--disk must not be negative (got -5)");
  EXPECT_EQ(with([](RunOptions& x) { x.command.clear(); }),
            "missing command: usage is berth run [flags] -- COMMAND [ARGS...] (or --image IMAGE)");
  EXPECT_EQ(with([](RunOptions& x) { x.command.clear(); x.image = "busybox"; }), "ok");
  EXPECT_EQ(with([](RunOptions& x) { x.command.clear(); x.image = "busybox"; x.shell = true; }),
            "--shell needs a command after --");
  EXPECT_EQ(with([](RunOptions& x) { x.force_pull = true; }), "--force_pull needs --image");
  EXPECT_EQ(with([](RunOptions& x) { x.force_pull = true; x.image = "busybox"; }), "ok");
  EXPECT_EQ(with([](RunOptions& x) { x.env = {"A=1", "=2"}; }), "--env '=2': expecting KEY=VALUE");
  EXPECT_EQ(with([](RunOptions& x) { x.kill_after_s = -1; }), "--kill_after must not be negative (got -1)");
  EXPECT_EQ(with([](RunOptions& x) { x.labels = {"berth.pids_max"}; }),
            "--label 'berth.pids_max': expecting KEY=VALUE");
  EXPECT_EQ(with([](RunOptions& x) { x.mem_limit = "lots"; }),
            "--mem_limit 'lots': expecting a number greater than 0 or \"infinity\"");
  EXPECT_EQ(with([](RunOptions& x) { x.cpus_limit = "-1"; }),
            "--cpus_limit '-1': expecting a number greater than 0 or \"infinity\"");
  EXPECT_EQ(with([](RunOptions& x) { x.cpus_limit = "2.5"; x.mem_limit = "infinity"; }), "ok");
}

TEST(RunOptions, EnvVarsSplitAtTheFirstEquals) {
  auto var = parse_env_var("PATH=/bin:/usr/bin=x");
  ASSERT_TRUE(var);
  EXPECT_EQ(var->first, "PATH");
  EXPECT_EQ(var->second, "/bin:/usr/bin=x");
  EXPECT_FALSE(parse_env_var("PATH"));
}

TEST(BerthMain, BadUsageExitsTwoWithAMessage) {
  auto [no_command, err1] = berth({"run"});
  EXPECT_EQ(no_command, kExitUsage);
  EXPECT_NE(err1.find("missing command"), std::string::npos) << err1;

  auto [zero_cpus, err2] = berth({"run", "--cpus", "0", "--", "true"});
  EXPECT_EQ(zero_cpus, kExitUsage);
  EXPECT_NE(err2.find("--cpus must be greater than 0"), std::string::npos) << err2;

  auto [not_a_number, err3] = berth({"run", "--mem", "lots", "--", "true"});
  EXPECT_EQ(not_a_number, kExitUsage);
  EXPECT_NE(err3.find("--mem"), std::string::npos) << err3;

  auto [unknown, err4] = berth({"run", "--cpu", "1", "--", "true"});
  EXPECT_EQ(unknown, kExitUsage);
  EXPECT_NE(err4.find("--cpu"), std::string::npos) << err4;

  auto [no_dash, err6] = berth({"run", "/bin/echo", "hi"});
  EXPECT_EQ(no_dash, kExitUsage);
  EXPECT_NE(err6.find("/bin/echo"), std::string::npos) << err6;

  auto [no_subcommand, err5] = berth({});
  EXPECT_EQ(no_subcommand, kExitUsage);
  EXPECT_FALSE(err5.empty());
}

TEST(BerthMain, EnvironmentIsValidatedLikeFlags) {
  ScopedEnv cpus("BERTH_CPUS", "-2");
  auto [code, err] = berth({"run", "--", "true"});
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(err.find("--cpus must be greater than 0 (got -2)"), std::string::npos) << err;
}

}  // namespace
}  // namespace berth::cli
