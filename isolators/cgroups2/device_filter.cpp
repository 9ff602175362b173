// The device filter as a hand-assembled eBPF program, loaded and attached
// with raw bpf(2) calls (no libbpf: the program is a few dozen instructions).
//
// The kernel runs a BPF_PROG_TYPE_CGROUP_DEVICE program on mknod of a device
// node and on every open (inode permission check) of one, with a
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type's low 16 bits are the device type (BPF_DEVCG_DEV_BLOCK/CHAR),
// its high 16 bits the accesses asked for (BPF_DEVCG_ACC_MKNOD/READ/WRITE).
// An open for O_RDWR asks for READ|WRITE in one call. Returning 1 allows,
// 0 makes the system call fail with EPERM.
//
// Program layout (registers after the prologue):
//   r2 = type, r3 = accesses still undecided, r4 = major, r5 = minor
//   per rule:  if type/major/minor differ: next rule
//              allow: r3 &= ~access; if r3 == 0: return 1
//              deny:  if r3 & access: return 0
//   end:       return 0
// So every access bit is decided by the first rule that matches the device
// and names that bit; a request is allowed only when all its bits are.

#include "berth/isolators/cgroups2/device_filter.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace berth::isolators::cgroups2 {
namespace {

// The kernel reads the license only to gate GPL-only helpers ("cannot call
// GPL-restricted function from non-GPL compatible program"); this program
// calls no helper at all, so any string loads. It names Berth's own code
// (runc passes "Apache", crun "GPL").
constexpr char kProgramLicense[] = "Apache-2.0";
// Shown by `bpftool prog`; at most BPF_OBJ_NAME_LEN - 1 characters.
constexpr char kProgramName[] = "berth_devices";

// BPF_CGROUP_MAX_PROGS: the kernel's limit of programs per cgroup and type.
constexpr std::size_t kMaxProgramsPerCgroup = 64;

constexpr std::uint8_t kCtx = BPF_REG_1;
constexpr std::uint8_t kScratch = BPF_REG_1;  // ctx is dead after the prologue
constexpr std::uint8_t kType = BPF_REG_2;
constexpr std::uint8_t kPending = BPF_REG_3;
constexpr std::uint8_t kMajor = BPF_REG_4;
constexpr std::uint8_t kMinor = BPF_REG_5;

// ---- instruction encoders (the few the filter needs) ----

bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_u32(std::uint8_t dst, std::uint8_t base, std::int16_t off) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, base, off, 0);
}
bpf_insn alu32_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov32_reg(std::uint8_t dst, std::uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
// 32-bit compares (BPF_JMP32, Linux 5.1): the immediate is compared as a u32,
// where a 64-bit BPF_JMP would sign-extend a major or minor above 2^31.
// The offset is filled in once the rule's block is complete.
bpf_insn jump32_imm(std::uint8_t op, std::uint8_t dst, std::uint32_t imm) {
  return insn(BPF_JMP32 | op | BPF_K, dst, 0, 0, static_cast<std::int32_t>(imm));
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
void append_return(std::vector<bpf_insn>& out, int verdict) {
  out.push_back(alu32_imm(BPF_MOV, BPF_REG_0, verdict));
  out.push_back(exit_insn());
}

// ---- validation ----

std::optional<std::uint32_t> access_bits(const std::string& access) {
  std::uint32_t bits = 0;
  for (char c : access) {
    std::uint32_t bit = c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : c == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
    if (bit == 0 || (bits & bit)) return std::nullopt;
    bits |= bit;
  }
  return bits;
}

std::optional<std::string> access_problem(const std::string& access) {
  if (access.empty()) return "access: empty (want a subset of rwm)";
  for (std::size_t i = 0; i < access.size(); ++i) {
    if (access.find(access[i]) != i) return "access: '" + access + "' repeats '" + access[i] + "'";
  }
  if (!access_bits(access)) return "access: '" + access + "' is not a subset of rwm";
  return std::nullopt;
}

// The context's major and minor are u32: -1 means any, anything else must fit.
std::optional<std::string> number_problem(const char* field, std::int64_t value) {
  if (value >= -1 && value <= static_cast<std::int64_t>(UINT32_MAX)) return std::nullopt;
  return std::string(field) + ": " + std::to_string(value) + " is not -1 (any) or a 32-bit device number";
}

std::optional<std::string> rule_problem(const DeviceRule& rule) {
  if (rule.type != 'a' && rule.type != 'b' && rule.type != 'c')
    return std::string("type: '") + rule.type + "' is not one of a, b, c";
  if (auto problem = access_problem(rule.access)) return problem;
  if (auto problem = number_problem("major", rule.major)) return problem;
  return number_problem("minor", rule.minor);
}

// ---- code generation ----

void append_prologue(std::vector<bpf_insn>& out) {
  out.push_back(load_u32(kType, kCtx, offsetof(bpf_cgroup_dev_ctx, access_type)));
  out.push_back(alu32_imm(BPF_AND, kType, 0xffff));
  out.push_back(load_u32(kPending, kCtx, offsetof(bpf_cgroup_dev_ctx, access_type)));
  out.push_back(alu32_imm(BPF_RSH, kPending, 16));
  out.push_back(load_u32(kMajor, kCtx, offsetof(bpf_cgroup_dev_ctx, major)));
  out.push_back(load_u32(kMinor, kCtx, offsetof(bpf_cgroup_dev_ctx, minor)));
}

// Jumps to the next rule when the device is not the rule's. Type 'a' only
// drops the type check: an "a 1:3" rule still names major 1, minor 3 (as
// runc and crun read it).
void append_device_checks(std::vector<bpf_insn>& block, const DeviceRule& rule) {
  if (rule.type != 'a')
    block.push_back(jump32_imm(BPF_JNE, kType, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
  if (rule.major != -1) block.push_back(jump32_imm(BPF_JNE, kMajor, static_cast<std::uint32_t>(rule.major)));
  if (rule.minor != -1) block.push_back(jump32_imm(BPF_JNE, kMinor, static_cast<std::uint32_t>(rule.minor)));
}

// Allowing clears the rule's bits from the undecided ones. Bits outside rwm
// (an access type a future kernel adds) are never cleared, so they end at
// the default deny rather than being allowed by an "rwm" rule.
void append_allow(std::vector<bpf_insn>& block, std::uint32_t access) {
  block.push_back(alu32_imm(BPF_AND, kPending, static_cast<std::int32_t>(~access)));
  block.push_back(jump32_imm(BPF_JNE, kPending, 0));
  append_return(block, 1);
}

// Denying any still-undecided bit denies the request: a deny "w" rule stops
// an O_RDWR open even though the request also asks for read.
void append_deny(std::vector<bpf_insn>& block, std::uint32_t access) {
  block.push_back(mov32_reg(kScratch, kPending));
  block.push_back(alu32_imm(BPF_AND, kScratch, static_cast<std::int32_t>(access)));
  block.push_back(jump32_imm(BPF_JEQ, kScratch, 0));
  append_return(block, 0);
}

// Every conditional jump in a rule's block goes to the next rule, which
// starts right after the block; offsets count from the following insn.
void resolve_jumps_to_next_rule(std::vector<bpf_insn>& block) {
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (BPF_CLASS(block[i].code) == BPF_JMP32) block[i].off = static_cast<std::int16_t>(block.size() - i - 1);
  }
}

std::vector<bpf_insn> rule_block(const DeviceRule& rule) {
  std::vector<bpf_insn> block;
  append_device_checks(block, rule);
  std::uint32_t access = *access_bits(rule.access);
  if (rule.allow) {
    append_allow(block, access);
  } else {
    append_deny(block, access);
  }
  resolve_jumps_to_next_rule(block);
  return block;
}

// ---- bpf(2) ----

long bpf(int cmd, bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof(attr)); }

bpf_attr prog_load_attr(std::span<const bpf_insn> program) {
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<std::uintptr_t>(program.data());
  attr.insn_cnt = static_cast<std::uint32_t>(program.size());
  attr.license = reinterpret_cast<std::uintptr_t>(kProgramLicense);
  static_assert(sizeof(kProgramName) <= BPF_OBJ_NAME_LEN);
  std::copy(std::begin(kProgramName), std::end(kProgramName), attr.prog_name);
  return attr;
}

std::string load_hint(int err) {
  if (err == EPERM) return " (loading needs CAP_BPF or CAP_SYS_ADMIN; before Linux 5.11 also RLIMIT_MEMLOCK room)";
  return {};
}

// The verifier's log on one line (agent logs are line-based), its end kept:
// the reason for a rejection is the last thing the verifier writes.
std::string one_line_tail(std::string log) {
  constexpr std::size_t kMaxChars = 4096;
  while (!log.empty() && log.back() == '\n') log.pop_back();
  if (log.size() > kMaxChars) log = "..." + log.substr(log.size() - kMaxChars);
  std::string line;
  for (char c : log) line += c == '\n' ? std::string_view(" | ") : std::string_view(&c, 1);
  return line;
}

// Loads again with a verifier log, only after a failed load: logging slows
// verification, and a log buffer too small fails the load (ENOSPC) by itself.
Result<UniqueFd> load_with_log(bpf_attr attr, int first_errno) {
  std::string log(1 << 20, '\0');
  attr.log_level = 1;
  attr.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
  attr.log_size = static_cast<std::uint32_t>(log.size());
  long fd = bpf(BPF_PROG_LOAD, attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno == ENOSPC ? first_errno : errno;
  log.resize(log.find('\0'));
  std::string message = "BPF_PROG_LOAD device filter" + load_hint(err);
  if (!log.empty()) message += " [verifier log: " + one_line_tail(log) + "]";
  return fail(Error::sys(std::move(message), err, {}));
}

// The device programs attached to the cgroup itself (not its ancestors').
Result<std::vector<std::uint32_t>> own_program_ids(int cgroup_fd) {
  std::vector<std::uint32_t> ids(kMaxProgramsPerCgroup);
  bpf_attr attr{};
  attr.query.target_fd = static_cast<std::uint32_t>(cgroup_fd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<std::uintptr_t>(ids.data());
  attr.query.prog_cnt = static_cast<std::uint32_t>(ids.size());
  if (bpf(BPF_PROG_QUERY, attr) != 0) return fail_sys("BPF_PROG_QUERY device programs of cgroup");
  ids.resize(attr.query.prog_cnt);
  return ids;
}

Result<UniqueFd> program_fd(std::uint32_t id) {
  bpf_attr attr{};
  attr.prog_id = id;
  long fd = bpf(BPF_PROG_GET_FD_BY_ID, attr);
  if (fd < 0) return fail_sys("BPF_PROG_GET_FD_BY_ID " + std::to_string(id));
  return UniqueFd(static_cast<int>(fd));
}

// `replace_fd` >= 0: swap that program for this one in one step.
Result<void> attach_program(int cgroup_fd, int prog_fd, int replace_fd) {
  bpf_attr attr{};
  attr.target_fd = static_cast<std::uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<std::uint32_t>(prog_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (replace_fd >= 0) {
    attr.attach_flags |= BPF_F_REPLACE;
    attr.replace_bpf_fd = static_cast<std::uint32_t>(replace_fd);
  }
  if (bpf(BPF_PROG_ATTACH, attr) != 0) return fail_sys("BPF_PROG_ATTACH device filter to cgroup");
  return {};
}

// A program already gone (ENOENT: detached meanwhile) is fine.
Result<void> detach_program(int cgroup_fd, std::uint32_t id) {
  auto fd = program_fd(id);
  if (!fd && fd.error().code() == ENOENT) return {};
  if (!fd) return fail(fd.error());
  bpf_attr attr{};
  attr.target_fd = static_cast<std::uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<std::uint32_t>(fd->get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (bpf(BPF_PROG_DETACH, attr) != 0 && errno != ENOENT) return fail_sys("BPF_PROG_DETACH old device filter");
  return {};
}

}  // namespace

std::vector<DeviceRule> default_device_rules() {
  // mknod of any character device node is allowed, as runc and crun (and
  // Docker) do: a node is harmless until opened, and opening is what the rest
  // of the list decides; images and package scripts that create nodes keep
  // working. Block device nodes are not: a task on the host's filesystem
  // would leave them there, and no ordinary work makes them. The OCI runtime
  // spec's default devices and the pts devices get rwm.
  // /dev/net/tun (c 10:200), which runc and crun also add for Docker's sake,
  // is not a spec default: tasks that need it name it in Limits::devices.
  return {
      {.type = 'c', .major = -1, .minor = -1, .access = "m"},
      {.type = 'c', .major = 1, .minor = 3, .access = "rwm"},     // /dev/null
      {.type = 'c', .major = 1, .minor = 5, .access = "rwm"},     // /dev/zero
      {.type = 'c', .major = 1, .minor = 7, .access = "rwm"},     // /dev/full
      {.type = 'c', .major = 1, .minor = 8, .access = "rwm"},     // /dev/random
      {.type = 'c', .major = 1, .minor = 9, .access = "rwm"},     // /dev/urandom
      {.type = 'c', .major = 5, .minor = 0, .access = "rwm"},     // /dev/tty
      {.type = 'c', .major = 5, .minor = 1, .access = "rwm"},     // /dev/console
      {.type = 'c', .major = 5, .minor = 2, .access = "rwm"},     // /dev/ptmx
      {.type = 'c', .major = 136, .minor = -1, .access = "rwm"},  // /dev/pts/N (UNIX98_PTY_SLAVE_MAJOR)
  };
}

Result<std::vector<bpf_insn>> compile_device_filter(std::span<const DeviceRule> rules) {
  std::vector<bpf_insn> program;
  append_prologue(program);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (auto problem = rule_problem(rules[i])) return fail("devices[" + std::to_string(i) + "]." + *problem);
    std::vector<bpf_insn> block = rule_block(rules[i]);
    program.insert(program.end(), block.begin(), block.end());
  }
  append_return(program, 0);
  return program;
}

Result<DeviceFilter> DeviceFilter::load(std::span<const bpf_insn> program) {
  bpf_attr attr = prog_load_attr(program);
  // The kernel returns program fds close-on-exec.
  long fd = bpf(BPF_PROG_LOAD, attr);
  if (fd < 0) {
    BERTH_TRY(UniqueFd logged, load_with_log(attr, errno));
    return DeviceFilter(std::move(logged));
  }
  return DeviceFilter(UniqueFd(static_cast<int>(fd)));
}

// BPF_F_ALLOW_MULTI: the kernel then runs this program for the cgroup and
// every descendant whatever they attach themselves, and a device access must
// pass every program on the path (any 0 denies). So a nested runtime in the
// container (systemd, runc) can attach its own filters, which only narrow
// ours. With no flag, descendants could attach nothing (EPERM); with
// BPF_F_ALLOW_OVERRIDE, a descendant's program would replace ours for its
// subtree. The price: attaching again adds a program rather than replacing
// the first (and both must allow), so an update (DevicesController::update)
// replaces the cgroup's own programs explicitly, as runc and crun do.
Result<void> DeviceFilter::attach(int cgroup_fd) const {
  BERTH_TRY(std::vector<std::uint32_t> old, own_program_ids(cgroup_fd));
  if (old.size() == 1) {
    // Atomic swap (BPF_F_REPLACE, Linux 5.6): no moment without a filter.
    BERTH_TRY(UniqueFd old_fd, program_fd(old[0]));
    return attach_program(cgroup_fd, fd_.get(), old_fd.get());
  }
  BERTH_TRY_VOID(attach_program(cgroup_fd, fd_.get(), -1));
  for (std::uint32_t id : old) BERTH_TRY_VOID(detach_program(cgroup_fd, id));
  return {};
}

}  // namespace berth::isolators::cgroups2
