// A compiled seccomp program's syscall dispatch rewritten as a balanced tree
// over ranges of syscall numbers.
//
// Loading a filter costs the kernel time in proportion to its length (it
// translates and JITs every instruction) and to the tests each syscall
// number takes to reach its outcome (it runs the filter once per number to
// learn which calls it may allow without running it). libseccomp's binary
// tree tests syscall numbers one by one: 384 instructions for the default
// profile. Numbers that share an outcome mostly come in runs (the default
// profile's ~330 allowed calls are 33 runs), so one test per run boundary
// does the same work: 89 instructions, and half the load time.
//
// The rewrite learns the dispatch by running it: with the architecture and
// the syscall number as the only inputs, the outcome (a return value, or the
// first instruction that reads an argument) can only change where the
// program compares them with a constant, so running it once per constant
// (and its neighbours) gives the whole function. Tests on arguments are
// copied as they are. A program that does anything else before it reads an
// argument is left alone.

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <variant>

#include "berth/common/seccomp_bpf.hpp"
#include "berth/isolators/seccomp.hpp"

namespace berth::isolators::seccomp {
namespace {

constexpr std::uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr std::uint32_t kArchOffset = offsetof(seccomp_data, arch);

struct Return {
  std::uint32_t value;
  bool operator==(const Return& other) const = default;
};
struct ReadsArgument {  // the first instruction past the dispatch
  std::size_t pc;
  bool operator==(const ReadsArgument& other) const = default;
};
using Outcome = std::variant<Return, ReadsArgument>;

enum class Holds { nothing, nr, arch };

// Where the dispatch goes for one architecture and syscall number; nullopt
// when it does something the rewrite does not model.
struct Dispatch {
  std::span<const sock_filter> program;
  std::set<std::uint32_t> arch_constants;  // compared (jeq only) with the architecture
  std::set<std::uint32_t> nr_constants;    // compared with the syscall number

  std::optional<Outcome> run(std::uint32_t arch, std::uint32_t nr) {
    std::uint32_t a = 0;
    Holds holds = Holds::nothing;
    for (std::size_t pc = 0, steps = 0; pc < program.size() && steps <= program.size(); ++steps) {
      const auto& in = program[pc];
      if (in.code == (BPF_LD | BPF_W | BPF_ABS)) {
        if (in.k == kNrOffset) {
          a = nr, holds = Holds::nr;
        } else if (in.k == kArchOffset) {
          a = arch, holds = Holds::arch;
        } else {
          return ReadsArgument{pc};
        }
        ++pc;
        continue;
      }
      if (in.code == (BPF_RET | BPF_K)) return Return{in.k};
      if (in.code == (BPF_JMP | BPF_JA)) {
        pc += 1 + in.k;
        continue;
      }
      auto op = BPF_OP(in.code);
      bool comparison = BPF_CLASS(in.code) == BPF_JMP && BPF_SRC(in.code) == BPF_K &&
                        (op == BPF_JEQ || op == BPF_JGT || op == BPF_JGE);
      if (!comparison || holds == Holds::nothing || (holds == Holds::arch && op != BPF_JEQ)) break;
      (holds == Holds::arch ? arch_constants : nr_constants).insert(in.k);
      bool taken = op == BPF_JEQ ? a == in.k : op == BPF_JGT ? a > in.k : a >= in.k;
      pc += 1 + (taken ? in.jt : in.jf);
    }
    return std::nullopt;
  }
};

// Consecutive syscall numbers from `first` on share `outcome`.
struct Range {
  std::uint32_t first;
  Outcome outcome;
  bool operator==(const Range& other) const = default;
};

// The dispatch for one architecture over every syscall number, as ranges.
std::optional<std::vector<Range>> ranges_for(Dispatch& dispatch, std::uint32_t arch) {
  // Collecting constants as it runs: run until no new one turns up.
  std::vector<Range> ranges;
  for (std::size_t known = SIZE_MAX; known != dispatch.nr_constants.size();) {
    known = dispatch.nr_constants.size();
    std::set<std::uint32_t> points{0, UINT32_MAX};
    for (auto k : dispatch.nr_constants) {
      points.insert(k);
      if (k > 0) points.insert(k - 1);
      if (k < UINT32_MAX) points.insert(k + 1);
    }
    ranges.clear();
    for (auto nr : points) {
      auto outcome = dispatch.run(arch, nr);
      if (!outcome) return std::nullopt;
      if (ranges.empty() || !(ranges.back().outcome == *outcome)) ranges.push_back({nr, *outcome});
    }
  }
  return ranges;
}

// Instructions to emit, with targets as indexes into the new program.
struct Pending {
  sock_filter in;
  std::optional<std::size_t> jt, jf;  // conditional jumps
  std::optional<std::size_t> ja;      // BPF_JA
};

class Builder {
 public:
  std::vector<Pending> out;

  std::size_t emit(sock_filter in) {
    out.push_back({in, {}, {}, {}});
    return out.size() - 1;
  }
  std::optional<std::vector<sock_filter>> finish() const {
    std::vector<sock_filter> program;
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto in = out[i].in;
      auto offset = [&](std::size_t target) -> std::optional<std::size_t> {
        if (target <= i) return std::nullopt;
        return target - i - 1;
      };
      if (out[i].ja) {
        auto k = offset(*out[i].ja);
        if (!k) return std::nullopt;
        in.k = static_cast<std::uint32_t>(*k);
      }
      if (out[i].jt) {
        auto jt = offset(*out[i].jt), jf = offset(*out[i].jf);
        if (!jt || !jf || *jt > 255 || *jf > 255) return std::nullopt;
        in.jt = static_cast<std::uint8_t>(*jt);
        in.jf = static_cast<std::uint8_t>(*jf);
      }
      program.push_back(in);
    }
    return program;
  }
};

}  // namespace

std::optional<std::vector<sock_filter>> flatten(std::span<const sock_filter> program) {
  Dispatch dispatch{program, {}, {}};
  // Architectures: each one the program names, and one it does not; until
  // running them turns up no other.
  if (!dispatch.run(0, 0)) return std::nullopt;
  std::uint32_t other_arch = 0;
  std::map<std::uint32_t, std::vector<Range>> by_arch;
  std::optional<std::vector<Range>> other;
  for (std::size_t known = SIZE_MAX; known != dispatch.arch_constants.size();) {
    known = dispatch.arch_constants.size();
    while (dispatch.arch_constants.contains(other_arch)) ++other_arch;
    for (auto arch : std::set(dispatch.arch_constants)) {
      auto ranges = ranges_for(dispatch, arch);
      if (!ranges) return std::nullopt;
      by_arch[arch] = std::move(*ranges);
    }
    other = ranges_for(dispatch, other_arch);
    if (!other) return std::nullopt;
  }
  // Architectures that behave as an unnamed one need no test of their own.
  std::erase_if(by_arch, [&](const auto& entry) { return entry.second == *other; });

  // The argument tests, and whatever they reach, are copied in order.
  std::set<std::size_t> copied;
  std::vector<std::size_t> stack;
  auto note = [&](const Outcome& outcome) {
    if (const auto* read = std::get_if<ReadsArgument>(&outcome)) stack.push_back(read->pc);
  };
  for (const auto& [arch, ranges] : by_arch) for (const auto& range : ranges) note(range.outcome);
  for (const auto& range : *other) note(range.outcome);
  while (!stack.empty()) {
    auto pc = stack.back();
    stack.pop_back();
    if (pc >= program.size()) return std::nullopt;
    if (!copied.insert(pc).second) continue;
    const auto& in = program[pc];
    if (BPF_CLASS(in.code) == BPF_RET) continue;
    if (in.code == (BPF_JMP | BPF_JA)) {
      stack.push_back(pc + 1 + in.k);
    } else if (BPF_CLASS(in.code) == BPF_JMP) {
      stack.push_back(pc + 1 + in.jt);
      stack.push_back(pc + 1 + in.jf);
    } else {
      stack.push_back(pc + 1);
    }
  }

  // Layout: the architecture tests, each jumping (BPF_JA: any distance) to
  // its tree; a tree per architecture, followed by the outcomes its tests
  // jump to (conditional jumps reach 255 instructions at most): returns, and
  // jumps to the copies; then the copies.
  std::vector<const std::vector<Range>*> trees;
  for (const auto& [arch, ranges] : by_arch) trees.push_back(&ranges);
  trees.push_back(&*other);
  auto outcomes_of = [](const std::vector<Range>& ranges) {
    std::vector<Outcome> outcomes;
    for (const auto& range : ranges) {
      if (std::ranges::find(outcomes, range.outcome) == outcomes.end()) outcomes.push_back(range.outcome);
    }
    return outcomes;
  };
  std::size_t copies_at = by_arch.empty() ? 0 : 1 + 2 * by_arch.size() + 1;
  for (const auto* ranges : trees) copies_at += ranges->size() + outcomes_of(*ranges).size();
  std::map<std::size_t, std::size_t> copy_index;
  for (auto pc : copied) copy_index[pc] = copies_at + copy_index.size();

  Builder builder;
  std::vector<std::size_t> tree_jumps;  // the BPF_JA to each tree
  if (!by_arch.empty()) {
    builder.emit(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
    for (const auto& [arch, ranges] : by_arch) {
      builder.emit(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 1));
      tree_jumps.push_back(builder.emit(BPF_STMT(BPF_JMP | BPF_JA, 0)));
    }
    tree_jumps.push_back(builder.emit(BPF_STMT(BPF_JMP | BPF_JA, 0)));
  }
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const auto& ranges = *trees[t];
    auto outcomes = outcomes_of(ranges);
    auto start = builder.out.size();
    if (!tree_jumps.empty()) builder.out[tree_jumps[t]].ja = start;
    auto locals_at = start + ranges.size();
    auto local = [&](const Outcome& outcome) {
      return locals_at + static_cast<std::size_t>(std::ranges::find(outcomes, outcome) - outcomes.begin());
    };
    builder.emit(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
    // A balanced search: the first number of the upper half decides.
    auto node = [&](auto& self, std::size_t low, std::size_t high) -> std::size_t {
      if (low == high) return local(ranges[low].outcome);
      auto middle = (low + high + 1) / 2;
      auto at = builder.emit(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, ranges[middle].first, 0, 0));
      auto above = self(self, middle, high);
      auto below = self(self, low, middle - 1);
      builder.out[at].jt = above;
      builder.out[at].jf = below;
      return at;
    };
    if (ranges.size() == 1) {
      builder.out.back() = {BPF_STMT(BPF_JMP | BPF_JA, 0), {}, {}, local(ranges.front().outcome)};
    } else {
      node(node, 0, ranges.size() - 1);
    }
    if (builder.out.size() != locals_at) return std::nullopt;
    for (const auto& outcome : outcomes) {
      if (const auto* r = std::get_if<Return>(&outcome)) {
        builder.emit(BPF_STMT(BPF_RET | BPF_K, r->value));
      } else {
        auto at = builder.emit(BPF_STMT(BPF_JMP | BPF_JA, 0));
        builder.out[at].ja = copy_index.at(std::get<ReadsArgument>(outcome).pc);
      }
    }
  }
  if (builder.out.size() != copies_at) return std::nullopt;
  for (auto pc : copied) {
    const auto& in = program[pc];
    auto at = builder.emit(in);
    if (in.code == (BPF_JMP | BPF_JA)) {
      builder.out[at].ja = copy_index.at(pc + 1 + in.k);
    } else if (BPF_CLASS(in.code) == BPF_JMP) {
      builder.out[at].jt = copy_index.at(pc + 1 + in.jt);
      builder.out[at].jf = copy_index.at(pc + 1 + in.jf);
    } else if (BPF_CLASS(in.code) != BPF_RET && !copy_index.contains(pc + 1)) {
      return std::nullopt;
    }
  }
  auto flattened = builder.finish();
  if (!flattened || flattened->size() >= program.size()) return std::nullopt;

  // The same outcome at every point where the outcome may change, for each
  // architecture, with arguments that take each argument test both ways.
  std::set<std::uint32_t> values{0, 1, UINT32_MAX};
  for (auto pc : copied) values.insert(program[pc].k);
  std::vector<std::uint32_t> arches(dispatch.arch_constants.begin(), dispatch.arch_constants.end());
  arches.push_back(other_arch);
  for (auto arch : arches) {
    for (auto nr : dispatch.nr_constants) {
      for (auto candidate : {nr - 1, nr, nr + 1}) {
        seccomp_data data{};
        data.arch = arch;
        data.nr = static_cast<int>(candidate);
        for (auto value : values) {
          for (auto& arg : data.args) arg = value | (std::uint64_t{value} << 32);
          if (seccomp_bpf::run(program, data) != seccomp_bpf::run(*flattened, data)) return std::nullopt;
          data.args[0] = value;
          if (seccomp_bpf::run(program, data) != seccomp_bpf::run(*flattened, data)) return std::nullopt;
        }
      }
    }
  }
  return flattened;
}

}  // namespace berth::isolators::seccomp
