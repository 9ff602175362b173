#include "berth/common/seccomp_bpf.hpp"

#include <cstring>

namespace berth::seccomp_bpf {

std::uint32_t run(std::span<const sock_filter> program, const seccomp_data& data) {
  std::uint32_t a = 0, x = 0;
  std::uint32_t memory[BPF_MEMWORDS] = {};
  auto word = [&](std::uint32_t offset) {
    std::uint32_t value = 0;
    if (offset % 4 == 0 && offset + 4 <= sizeof data) std::memcpy(&value, reinterpret_cast<const char*>(&data) + offset, 4);
    return value;
  };
  for (std::size_t pc = 0; pc < program.size();) {
    const auto& in = program[pc++];
    std::uint32_t operand = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        a = BPF_MODE(in.code) == BPF_ABS ? word(in.k) : BPF_MODE(in.code) == BPF_MEM ? memory[in.k % BPF_MEMWORDS]
            : BPF_MODE(in.code) == BPF_LEN ? static_cast<std::uint32_t>(sizeof data) : in.k;
        break;
      case BPF_LDX:
        x = BPF_MODE(in.code) == BPF_MEM ? memory[in.k % BPF_MEMWORDS]
            : BPF_MODE(in.code) == BPF_LEN ? static_cast<std::uint32_t>(sizeof data) : in.k;
        break;
      case BPF_ST: memory[in.k % BPF_MEMWORDS] = a; break;
      case BPF_STX: memory[in.k % BPF_MEMWORDS] = x; break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD: a += operand; break;
          case BPF_SUB: a -= operand; break;
          case BPF_MUL: a *= operand; break;
          case BPF_DIV:
          case BPF_MOD:
            if (operand == 0) return 0;  // as the kernel: the program ends, returning 0
            a = BPF_OP(in.code) == BPF_DIV ? a / operand : a % operand;
            break;
          case BPF_AND: a &= operand; break;
          case BPF_OR: a |= operand; break;
          case BPF_XOR: a ^= operand; break;
          case BPF_LSH: a = operand < 32 ? a << operand : 0; break;
          case BPF_RSH: a = operand < 32 ? a >> operand : 0; break;
          case BPF_NEG: a = -a; break;
        }
        break;
      case BPF_JMP: {
        bool taken = false;
        switch (BPF_OP(in.code)) {
          case BPF_JA: pc += in.k; continue;
          case BPF_JEQ: taken = a == operand; break;
          case BPF_JGT: taken = a > operand; break;
          case BPF_JGE: taken = a >= operand; break;
          case BPF_JSET: taken = (a & operand) != 0; break;
        }
        pc += taken ? in.jt : in.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX) x = a; else a = x;
        break;
    }
  }
  return SECCOMP_RET_KILL_PROCESS;
}

bool allows(std::span<const sock_filter> program, std::uint32_t arch, std::span<const Call> calls) {
  for (const auto& call : calls) {
    seccomp_data data{};
    data.arch = arch;
    data.nr = call.nr;
    data.args[0] = call.arg0;
    if (run(program, data) != SECCOMP_RET_ALLOW) return false;
  }
  return true;
}

}  // namespace berth::seccomp_bpf
