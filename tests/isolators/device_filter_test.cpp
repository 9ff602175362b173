// The device filter compiler without root: rule validation, the shape of the
// emitted program, and its verdicts, by running it through a small
// interpreter of the eBPF instructions the compiler emits (checked against a
// plain C++ model of the rules for thousands of requests).

#include "berth/isolators/cgroups2/device_filter.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace berth::isolators::cgroups2 {
namespace {

constexpr std::uint32_t kRead = BPF_DEVCG_ACC_READ;
constexpr std::uint32_t kWrite = BPF_DEVCG_ACC_WRITE;
constexpr std::uint32_t kMknod = BPF_DEVCG_ACC_MKNOD;
constexpr std::uint32_t kChar = BPF_DEVCG_DEV_CHAR;
constexpr std::uint32_t kBlock = BPF_DEVCG_DEV_BLOCK;
constexpr std::size_t kPrologue = 6;
constexpr std::size_t kDefaultDeny = 2;

struct Request {
  std::uint32_t type;
  std::uint32_t major;
  std::uint32_t minor;
  std::uint32_t access;
};

std::string describe(const Request& r) {
  return "type " + std::to_string(r.type) + " " + std::to_string(r.major) + ":" + std::to_string(r.minor) +
         " access " + std::to_string(r.access);
}

// ---- a tiny eBPF interpreter: just the instructions the compiler emits ----

class Interpreter {
 public:
  Interpreter(const std::vector<bpf_insn>& program, const Request& request) : program_(program) {
    ctx_ = {.access_type = (request.access << 16) | request.type, .major = request.major, .minor = request.minor};
    holds_ctx_[BPF_REG_1] = true;
  }

  std::uint64_t run() {
    for (std::size_t pc = 0; pc < program_.size();) {
      const bpf_insn& i = program_[pc];
      switch (BPF_CLASS(i.code)) {
        case BPF_LDX: load(i); break;
        case BPF_ALU: alu32(i); break;
        case BPF_JMP32: pc += jump32(i); break;
        case BPF_JMP:
          if (i.code != (BPF_JMP | BPF_EXIT)) bad(i, "unexpected BPF_JMP");
          if (!written_[BPF_REG_0]) bad(i, "exit with r0 unset");
          return regs_[BPF_REG_0];
        default: bad(i, "unexpected class");
      }
      ++pc;
    }
    throw std::runtime_error("ran off the end of the program");
  }

 private:
  [[noreturn]] static void bad(const bpf_insn& i, const std::string& why) {
    throw std::runtime_error(why + " (code " + std::to_string(i.code) + ")");
  }

  std::uint32_t read(int reg) const {
    if (!written_[reg]) throw std::runtime_error("read of unset r" + std::to_string(reg));
    return static_cast<std::uint32_t>(regs_[reg]);
  }

  void write(int reg, std::uint32_t value) {  // 32-bit ops zero the upper half
    regs_[reg] = value;
    written_[reg] = true;
    holds_ctx_[reg] = false;
  }

  void load(const bpf_insn& i) {
    if (i.code != (BPF_LDX | BPF_W | BPF_MEM)) bad(i, "unexpected load");
    if (!holds_ctx_[i.src_reg]) bad(i, "load through a register that is not the context");
    switch (i.off) {
      case offsetof(bpf_cgroup_dev_ctx, access_type): write(i.dst_reg, ctx_.access_type); break;
      case offsetof(bpf_cgroup_dev_ctx, major): write(i.dst_reg, ctx_.major); break;
      case offsetof(bpf_cgroup_dev_ctx, minor): write(i.dst_reg, ctx_.minor); break;
      default: bad(i, "load outside the context's fields");
    }
  }

  void alu32(const bpf_insn& i) {
    std::uint32_t operand = BPF_SRC(i.code) == BPF_X ? read(i.src_reg) : static_cast<std::uint32_t>(i.imm);
    switch (BPF_OP(i.code)) {
      case BPF_MOV: write(i.dst_reg, operand); break;
      case BPF_AND: write(i.dst_reg, read(i.dst_reg) & operand); break;
      case BPF_RSH: write(i.dst_reg, read(i.dst_reg) >> operand); break;
      default: bad(i, "unexpected ALU op");
    }
  }

  // Returns how many instructions to skip; only forward jumps that land
  // inside the program (the verifier would reject the rest).
  std::size_t jump32(const bpf_insn& i) {
    if (BPF_SRC(i.code) != BPF_K) bad(i, "unexpected register compare");
    if (i.off < 0) bad(i, "backward jump");
    std::uint32_t left = read(i.dst_reg);
    std::uint32_t right = static_cast<std::uint32_t>(i.imm);
    bool taken = false;
    switch (BPF_OP(i.code)) {
      case BPF_JEQ: taken = left == right; break;
      case BPF_JNE: taken = left != right; break;
      default: bad(i, "unexpected jump op");
    }
    return taken ? static_cast<std::size_t>(i.off) : 0;
  }

  const std::vector<bpf_insn>& program_;
  bpf_cgroup_dev_ctx ctx_{};
  std::uint64_t regs_[11] = {};
  bool written_[11] = {};
  bool holds_ctx_[11] = {};
};

bool allowed(const std::vector<bpf_insn>& program, const Request& request) {
  std::uint64_t verdict = Interpreter(program, request).run();
  EXPECT_TRUE(verdict == 0 || verdict == 1) << "verdict " << verdict;
  return verdict == 1;
}

std::vector<bpf_insn> compile(const std::vector<DeviceRule>& rules) {
  auto program = compile_device_filter(rules);
  if (!program) throw std::runtime_error(program.error().what());
  return *program;
}

std::string compile_error(const std::vector<DeviceRule>& rules) {
  auto program = compile_device_filter(rules);
  if (program) return "(compiled)";
  EXPECT_EQ(program.error().code(), 0);
  return program.error().message();
}

// ---- the rules' meaning, in plain C++ ----

std::uint32_t rule_bits(const std::string& access) {
  std::uint32_t bits = 0;
  for (char c : access) bits |= c == 'r' ? kRead : c == 'w' ? kWrite : kMknod;
  return bits;
}

bool names_device(const DeviceRule& rule, const Request& r) {
  bool type = rule.type == 'a' || (rule.type == 'c' ? r.type == kChar : r.type == kBlock);
  return type && (rule.major == -1 || rule.major == r.major) && (rule.minor == -1 || rule.minor == r.minor);
}

// Each access bit is decided by the first rule that names the device and the
// bit; the request is allowed only when every bit it asks for is allowed.
bool model_allows(const std::vector<DeviceRule>& rules, const Request& r) {
  std::uint32_t pending = r.access;
  for (const DeviceRule& rule : rules) {
    if (!names_device(rule, r)) continue;
    if (!rule.allow && (pending & rule_bits(rule.access))) return false;
    if (!rule.allow) continue;
    pending &= ~rule_bits(rule.access);
    if (pending == 0) return true;
  }
  return false;
}

// ---- validation ----

TEST(DeviceFilterTest, AccessNotASubsetOfRwmNamesTheRule) {
  std::vector<DeviceRule> rules = {{.type = 'c', .major = 1, .minor = 3, .access = "rwm"},
                                   {.type = 'c', .major = 1, .minor = 5, .access = "r"},
                                   {.type = 'c', .major = 1, .minor = 7, .access = "rwx"}};
  EXPECT_EQ(compile_error(rules), "devices[2].access: 'rwx' is not a subset of rwm");
}

TEST(DeviceFilterTest, EmptyAccessIsRejected) {
  EXPECT_EQ(compile_error({{.type = 'c', .major = 1, .minor = 3, .access = ""}}),
            "devices[0].access: empty (want a subset of rwm)");
}

TEST(DeviceFilterTest, RepeatedAccessIsRejected) {
  EXPECT_EQ(compile_error({{.type = 'b', .access = "rwr"}}), "devices[0].access: 'rwr' repeats 'r'");
}

TEST(DeviceFilterTest, UnknownTypeIsRejected) {
  EXPECT_EQ(compile_error({{.type = 'a'}, {.type = 'x'}}), "devices[1].type: 'x' is not one of a, b, c");
  EXPECT_EQ(compile_error({{.type = 'C'}}), "devices[0].type: 'C' is not one of a, b, c");
}

TEST(DeviceFilterTest, MajorAndMinorMustBeWildcardOr32Bit) {
  EXPECT_EQ(compile_error({{.type = 'c', .major = -2}}),
            "devices[0].major: -2 is not -1 (any) or a 32-bit device number");
  EXPECT_EQ(compile_error({{.type = 'c', .major = 1, .minor = 4294967296}}),
            "devices[0].minor: 4294967296 is not -1 (any) or a 32-bit device number");
  EXPECT_EQ(compile_error({{.type = 'c', .major = 4294967295, .minor = 0}}), "(compiled)");
}

TEST(DeviceFilterTest, FirstBadRuleIsTheOneNamed) {
  EXPECT_EQ(compile_error({{.type = 'c', .access = "q"}, {.type = 'z'}}),
            "devices[0].access: 'q' is not a subset of rwm");
}

TEST(DeviceFilterTest, DefaultRulesAreValid) { EXPECT_TRUE(compile_device_filter(default_device_rules()).has_value()); }

// ---- shape ----

bool is_default_deny_tail(const std::vector<bpf_insn>& p) {
  const bpf_insn& mov = p[p.size() - 2];
  const bpf_insn& exit = p.back();
  return mov.code == (BPF_ALU | BPF_MOV | BPF_K) && mov.dst_reg == BPF_REG_0 && mov.imm == 0 &&
         exit.code == (BPF_JMP | BPF_EXIT);
}

std::size_t compares_on(const std::vector<bpf_insn>& program, int reg) {
  std::size_t n = 0;
  for (const bpf_insn& i : program) n += BPF_CLASS(i.code) == BPF_JMP32 && i.dst_reg == reg;
  return n;
}

TEST(DeviceFilterTest, NoRulesIsPrologueAndDefaultDeny) {
  auto program = compile({});
  ASSERT_EQ(program.size(), kPrologue + kDefaultDeny);
  EXPECT_TRUE(is_default_deny_tail(program));
  EXPECT_FALSE(allowed(program, {kChar, 1, 3, kRead}));
}

TEST(DeviceFilterTest, EveryProgramEndsWithDefaultDeny) {
  EXPECT_TRUE(is_default_deny_tail(compile(default_device_rules())));
  EXPECT_TRUE(is_default_deny_tail(compile({{.type = 'a', .allow = false}})));
}

TEST(DeviceFilterTest, InstructionCountGrowsByOneBlockPerRule) {
  DeviceRule rule{.type = 'c', .major = 1, .minor = 3, .access = "rw"};
  std::vector<DeviceRule> rules;
  std::size_t previous = compile(rules).size();
  for (int n = 1; n <= 4; ++n) {
    rules.push_back(rule);
    std::size_t size = compile(rules).size();
    // type, major, minor checks; clear bits, test, return 1.
    EXPECT_EQ(size - previous, 3u + 4u) << n << " rules";
    previous = size;
  }
}

TEST(DeviceFilterTest, AnyTypeRuleSkipsTheTypeCheck) {
  EXPECT_EQ(compares_on(compile({{.type = 'a', .major = 1, .minor = 3}}), BPF_REG_2), 0u);
  EXPECT_EQ(compares_on(compile({{.type = 'c', .major = 1, .minor = 3}}), BPF_REG_2), 1u);
  EXPECT_EQ(compares_on(compile({{.type = 'b', .major = 1, .minor = 3}}), BPF_REG_2), 1u);
}

TEST(DeviceFilterTest, WildcardMajorAndMinorSkipTheirChecks) {
  auto any = compile({{.type = 'c', .major = -1, .minor = -1}});
  EXPECT_EQ(compares_on(any, BPF_REG_4), 0u);
  EXPECT_EQ(compares_on(any, BPF_REG_5), 0u);
  auto pts = compile({{.type = 'c', .major = 136, .minor = -1}});
  EXPECT_EQ(compares_on(pts, BPF_REG_4), 1u);
  EXPECT_EQ(compares_on(pts, BPF_REG_5), 0u);
}

TEST(DeviceFilterTest, JumpsGoForwardAndStayInside) {
  auto program = compile(default_device_rules());
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    if (BPF_CLASS(program[pc].code) != BPF_JMP32) continue;
    EXPECT_GE(program[pc].off, 0) << "at " << pc;
    EXPECT_LT(pc + 1 + program[pc].off, program.size()) << "at " << pc;
  }
}

// ---- verdicts ----

TEST(DeviceFilterTest, DefaultRulesAllowTheStandardDevices) {
  auto program = compile(default_device_rules());
  const std::pair<std::uint32_t, std::uint32_t> standard[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},
                                                              {1, 9}, {5, 0}, {5, 1}, {5, 2}};
  for (auto [major, minor] : standard) {
    Request r{kChar, major, minor, kRead | kWrite};
    EXPECT_TRUE(allowed(program, r)) << describe(r);
    EXPECT_TRUE(allowed(program, {kChar, major, minor, kMknod})) << describe(r);
    EXPECT_FALSE(allowed(program, {kBlock, major, minor, kRead})) << describe(r);
  }
}

TEST(DeviceFilterTest, DefaultRulesAllowEveryPtsDevice) {
  auto program = compile(default_device_rules());
  for (std::uint32_t minor : {0u, 1u, 255u, 1048575u}) EXPECT_TRUE(allowed(program, {kChar, 136, minor, kRead | kWrite}));
  EXPECT_FALSE(allowed(program, {kChar, 137, 0, kRead}));
}

TEST(DeviceFilterTest, DefaultRulesAllowMknodOfCharacterDevicesButNotUseOfOtherDevices) {
  auto program = compile(default_device_rules());
  const Request nodes[] = {{kChar, 1, 1, 0}, {kChar, 10, 200, 0}, {kBlock, 254, 0, 0}, {kBlock, 7, 0, 0}};
  for (const Request& node : nodes) {
    EXPECT_EQ(allowed(program, {node.type, node.major, node.minor, kMknod}), node.type == kChar) << describe(node);
    EXPECT_FALSE(allowed(program, {node.type, node.major, node.minor, kRead})) << describe(node);
    EXPECT_FALSE(allowed(program, {node.type, node.major, node.minor, kWrite})) << describe(node);
    EXPECT_FALSE(allowed(program, {node.type, node.major, node.minor, kRead | kMknod})) << describe(node);
  }
  EXPECT_FALSE(allowed(program, {kChar, 1, 4, kRead}));  // near a default, not one
}

TEST(DeviceFilterTest, ReadOnlyRuleAllowsReadButNotWriteOrBoth) {
  auto program = compile({{.type = 'c', .major = 1, .minor = 1, .access = "r"}});
  EXPECT_TRUE(allowed(program, {kChar, 1, 1, kRead}));
  EXPECT_FALSE(allowed(program, {kChar, 1, 1, kWrite}));
  EXPECT_FALSE(allowed(program, {kChar, 1, 1, kRead | kWrite}));
  EXPECT_FALSE(allowed(program, {kBlock, 1, 1, kRead}));
}

TEST(DeviceFilterTest, AccessesAllowedByDifferentRulesCombine) {
  auto program = compile({{.type = 'c', .major = 1, .minor = 3, .access = "r"},
                          {.type = 'c', .major = 1, .minor = 3, .access = "w"}});
  EXPECT_TRUE(allowed(program, {kChar, 1, 3, kRead | kWrite}));
}

TEST(DeviceFilterTest, FirstMatchingRuleWinsForEachAccess) {
  auto deny_write_first = compile({{.type = 'c', .major = 1, .minor = 3, .access = "w", .allow = false},
                                   {.type = 'a', .access = "rwm"}});
  EXPECT_TRUE(allowed(deny_write_first, {kChar, 1, 3, kRead}));
  EXPECT_FALSE(allowed(deny_write_first, {kChar, 1, 3, kWrite}));
  EXPECT_FALSE(allowed(deny_write_first, {kChar, 1, 3, kRead | kWrite}));
  EXPECT_TRUE(allowed(deny_write_first, {kChar, 1, 5, kRead | kWrite}));

  auto allow_first = compile({{.type = 'c', .major = 1, .minor = 3, .access = "rw"}, {.type = 'a', .allow = false}});
  EXPECT_TRUE(allowed(allow_first, {kChar, 1, 3, kRead | kWrite}));
  EXPECT_FALSE(allowed(allow_first, {kChar, 1, 3, kMknod}));
  EXPECT_FALSE(allowed(allow_first, {kChar, 1, 5, kRead}));
}

TEST(DeviceFilterTest, AccessTypesBeyondRwmAreDeniedEvenByAnAllowAllRule) {
  auto program = compile({{.type = 'a', .access = "rwm"}});
  EXPECT_TRUE(allowed(program, {kChar, 8, 0, kRead | kWrite | kMknod}));
  EXPECT_FALSE(allowed(program, {kChar, 8, 0, kRead | 8}));
}

TEST(DeviceFilterTest, DeviceNumbersAbove2To31CompareExactly) {
  auto program = compile({{.type = 'c', .major = 4294967295, .minor = 2147483648, .access = "r"}});
  EXPECT_TRUE(allowed(program, {kChar, 4294967295u, 2147483648u, kRead}));
  EXPECT_FALSE(allowed(program, {kChar, 2147483647u, 2147483648u, kRead}));
  EXPECT_FALSE(allowed(program, {kChar, 4294967295u, 0, kRead}));
}

// ---- the program against the model, for random rule lists ----

DeviceRule random_rule(std::mt19937& rng) {
  static const char types[] = {'a', 'b', 'c'};
  static const std::int64_t majors[] = {-1, 1, 5, 136};
  static const std::int64_t minors[] = {-1, 0, 3, 5};
  static const char* accesses[] = {"r", "w", "m", "rw", "wr", "rm", "wm", "rwm", "mwr"};
  auto pick = [&](const auto& options) { return options[rng() % std::size(options)]; };
  return {.type = pick(types), .major = pick(majors), .minor = pick(minors), .access = pick(accesses),
          .allow = rng() % 4 != 0};
}

TEST(DeviceFilterTest, ProgramAgreesWithTheRulesModel) {
  std::mt19937 rng(20240601);
  const std::uint32_t types[] = {kBlock, kChar};
  const std::uint32_t majors[] = {0, 1, 5, 136, 4294967295u};
  const std::uint32_t minors[] = {0, 3, 5, 7};
  int checked = 0;
  for (int list = 0; list < 200; ++list) {
    std::vector<DeviceRule> rules(rng() % 7);
    for (auto& rule : rules) rule = random_rule(rng);
    auto program = compile(rules);
    for (auto type : types)
      for (auto major : majors)
        for (auto minor : minors)
          for (std::uint32_t access = 1; access < 16; ++access) {
            Request r{type, major, minor, access};
            ASSERT_EQ(allowed(program, r), model_allows(rules, r)) << describe(r) << " rule list " << list;
            ++checked;
          }
  }
  EXPECT_EQ(checked, 200 * 2 * 5 * 4 * 15);
}

}  // namespace
}  // namespace berth::isolators::cgroups2
