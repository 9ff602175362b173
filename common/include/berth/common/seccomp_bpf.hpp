#pragma once
// Classic BPF as the kernel runs a seccomp filter: to check a program
// against another, or what it answers for given system calls, without
// loading it.

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <span>

namespace berth::seccomp_bpf {

// What `program` returns for `data`.
std::uint32_t run(std::span<const sock_filter> program, const seccomp_data& data);

struct Call {
  int nr;
  std::uint64_t arg0 = 0;
};
// Whether `program` allows each of `calls` (for `arch`, AUDIT_ARCH_*), other
// arguments zero.
bool allows(std::span<const sock_filter> program, std::uint32_t arch, std::span<const Call> calls);

}  // namespace berth::seccomp_bpf
