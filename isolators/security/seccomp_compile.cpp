// A profile into BPF with libseccomp, and the cache of compiled programs.

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "berth/common/fd.hpp"
#include "berth/common/text.hpp"
#include "berth/isolators/seccomp.hpp"

namespace berth::isolators::seccomp {
namespace {

std::uint32_t scmp_action(Action action, std::optional<int> errno_code) {
  switch (action) {
    case Action::allow: return SCMP_ACT_ALLOW;
    case Action::errno_code: return SCMP_ACT_ERRNO(static_cast<std::uint16_t>(errno_code.value_or(EPERM)));
    case Action::kill_thread: return SCMP_ACT_KILL_THREAD;
    case Action::kill_process: return SCMP_ACT_KILL_PROCESS;
    case Action::trap: return SCMP_ACT_TRAP;
    case Action::trace: return SCMP_ACT_TRACE(static_cast<std::uint16_t>(errno_code.value_or(0)));
    case Action::log: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare scmp_op(Compare op) {
  switch (op) {
    case Compare::not_equal: return SCMP_CMP_NE;
    case Compare::less_than: return SCMP_CMP_LT;
    case Compare::less_equal: return SCMP_CMP_LE;
    case Compare::equal: return SCMP_CMP_EQ;
    case Compare::greater_equal: return SCMP_CMP_GE;
    case Compare::greater_than: return SCMP_CMP_GT;
    case Compare::masked_equal: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

// For masked_equal both libseccomp and Docker's profiles put the mask first
// ("value") and the value it must give second ("valueTwo").
scmp_arg_cmp scmp_condition(const ArgCondition& arg) { return {arg.index, scmp_op(arg.op), arg.value, arg.value_two}; }

bool applies(const Rule& rule, const std::set<std::string>& caps) {
  return std::ranges::all_of(rule.caps_required, [&](const auto& cap) { return caps.contains(cap); }) &&
         std::ranges::none_of(rule.caps_excluded, [&](const auto& cap) { return caps.contains(cap); });
}

// The condition sets a rule adds: all its conditions at once, unless two test
// the same argument, which libseccomp cannot AND; then each alone (ORed), as
// Docker does.
std::vector<std::vector<scmp_arg_cmp>> condition_sets(const Rule& rule) {
  std::set<unsigned> indexes;
  bool repeated = false;
  for (const auto& arg : rule.args) repeated |= !indexes.insert(arg.index).second;
  std::vector<std::vector<scmp_arg_cmp>> out;
  if (!repeated) {
    out.emplace_back();
    for (const auto& arg : rule.args) out.back().push_back(scmp_condition(arg));
    return out;
  }
  for (const auto& arg : rule.args) out.push_back({scmp_condition(arg)});
  return out;
}

struct Context {
  scmp_filter_ctx ctx;
  ~Context() {
    if (ctx) seccomp_release(ctx);
  }
};

}  // namespace

Result<Program> compile(const Profile& profile, const std::set<std::string>& caps, Form form) {
  auto default_action = scmp_action(profile.default_action, profile.default_errno);
  Context context{seccomp_init(default_action)};
  if (context.ctx == nullptr) return fail("seccomp_init failed");
  // no_new_privs is the launcher's business (and its choice to make).
  if (int rc = seccomp_attr_set(context.ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0) {
    return fail(Error("seccomp_attr_set(CTL_NNP)", -rc));
  }
  // A binary tree of syscall numbers rather than a list: the kernel runs the
  // filter once per syscall number when it loads it (to learn which it may
  // allow without running it), so a list of ~300 tests made every launch
  // ~0.35 ms slower; the tree is a few tests per call (and flatten() below
  // makes it fewer).
  if (int rc = seccomp_attr_set(context.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0) {
    return fail(Error("seccomp_attr_set(CTL_OPTIMIZE)", -rc));
  }
  for (const auto& name : profile.architectures) {
    auto arch = architecture_token(name);
    if (arch == 0) return fail("seccomp: unknown architecture '" + name + "'");
    if (arch == seccomp_arch_native()) continue;
    if (int rc = seccomp_arch_add(context.ctx, arch); rc < 0 && rc != -EEXIST) {
      return fail(Error("seccomp_arch_add", -rc, name));
    }
  }
  for (const auto& rule : profile.rules) {
    if (!applies(rule, caps)) continue;
    auto action = scmp_action(rule.action, rule.errno_code);
    if (action == default_action) continue;  // libseccomp refuses a rule that changes nothing
    for (const auto& conditions : condition_sets(rule)) {
      for (const auto& name : rule.names) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) return fail("seccomp: unknown syscall '" + name + "'");
        int rc = seccomp_rule_add_array(context.ctx, action, nr, static_cast<unsigned>(conditions.size()),
                                        conditions.empty() ? nullptr : conditions.data());
        if (rc < 0) return fail(Error("seccomp_rule_add", -rc, name));
      }
    }
  }
  UniqueFd memory(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!memory) return fail_sys("memfd_create");
  if (int rc = seccomp_export_bpf(context.ctx, memory.get()); rc < 0) return fail(Error("seccomp_export_bpf", -rc));
  auto size = ::lseek(memory.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return fail(fmt::format("seccomp_export_bpf wrote {} bytes, not whole BPF instructions", size));
  }
  Program program;
  program.instructions.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(memory.get(), program.instructions.data(), static_cast<std::size_t>(size), 0) != size) {
    return fail_sys("read of the compiled seccomp filter");
  }
  // libseccomp tests syscall numbers one at a time; runs of numbers with one
  // outcome need one test per run (the default profile: 89 instructions
  // instead of 384, loaded in half the time).
  if (form == Form::as_libseccomp_writes_it) return program;
  if (auto flattened = flatten(program.instructions)) program.instructions = std::move(*flattened);
  return program;
}

Result<std::shared_ptr<const Program>> ProgramCache::get(const Profile& profile, const std::set<std::string>& caps) {
  auto key = fmt::format("libseccomp {}|caps {}|{}", libseccomp_version(), fmt::join(caps, ","), profile.canonical());
  std::lock_guard lock(mutex_);
  if (auto it = programs_.find(key); it != programs_.end()) return it->second;
  BERTH_TRY(auto program, compile(profile, caps));
  auto shared = std::make_shared<const Program>(std::move(program));
  programs_.emplace(std::move(key), shared);
  return shared;
}

std::size_t ProgramCache::size() const {
  std::lock_guard lock(mutex_);
  return programs_.size();
}

std::uint32_t architecture_token(std::string_view name) {
  if (name.starts_with("SCMP_ARCH_")) name.remove_prefix(10);
  return seccomp_arch_resolve_name(text::ascii_lower(name).c_str());
}

std::string libseccomp_version() {
  const auto* version = seccomp_version();
  return fmt::format("{}.{}.{}", version->major, version->minor, version->micro);
}

}  // namespace berth::isolators::seccomp
