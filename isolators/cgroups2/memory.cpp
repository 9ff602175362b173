#include "berth/isolators/cgroups2/memory.hpp"

#include <unistd.h>

#include <optional>
#include <string>

#include "berth/isolators/cgroups2/stat_text.hpp"

namespace berth::isolators::cgroups2 {

namespace {

using stat_text::limit_value;

Result<void> validate(const Limits& limits) {
  if (limits.mem_limit && *limits.mem_limit < limits.mem_bytes) {
    return fail("mem_limit: " + std::to_string(*limits.mem_limit) + " bytes is below the request mem_bytes = " +
                std::to_string(limits.mem_bytes));
  }
  if (limits.mem_limit && *limits.mem_limit == 0) return fail("mem_limit: 0 bytes leaves no memory at all");
  return {};
}

// The hard limit: the limit, else the request (Mesos: a task without a limit
// is limited to what it asked for); none when neither is set.
std::optional<std::uint64_t> hard_limit(const Limits& limits) {
  if (limits.mem_limit) return *limits.mem_limit;
  if (limits.mem_bytes > 0) return limits.mem_bytes;
  return std::nullopt;
}

void add(std::vector<CgroupFileWrite>& writes, std::string file, std::optional<std::string> value,
         std::string_view kernel_default, Unset unset) {
  if (value) writes.push_back({std::move(file), std::move(*value)});
  else if (unset == Unset::restore) writes.push_back({std::move(file), std::string(kernel_default)});
}

// memory.swap.max exists only with swap accounting (CONFIG_MEMCG_SWAP and
// not swapaccount=0): restoring its default where it is absent is no error.
bool has_swap_file(const std::filesystem::path& cgroup) {
  return ::access((cgroup / "memory.swap.max").c_str(), F_OK) == 0;
}

std::optional<std::string> as_limit(std::optional<std::uint64_t> bytes) {
  return bytes.transform(limit_value);
}

// memory.stat: anon, file and kernel. Kernels before 5.18 have no "kernel"
// key; there it is the sum of what 5.18+ counts in it (the MEMCG_KMEM
// charges): kernel_stack + pagetables + percpu + slab + vmalloc, whichever
// the kernel lists. sock is not added: socket buffers are charged apart from
// MEMCG_KMEM, so "kernel" leaves them out on newer kernels too.
Result<void> parse_memory_stat(std::string_view text, Statistics& out) {
  out.memory_anon.reset();
  out.memory_file.reset();
  out.memory_kernel.reset();
  std::uint64_t kernel_parts = 0;
  bool any_part = false;
  BERTH_TRY_VOID(stat_text::for_each_key(text, [&](std::string_view key, std::string_view value) -> Result<void> {
    if (key == "anon") return stat_text::store(key, value, out.memory_anon);
    if (key == "file") return stat_text::store(key, value, out.memory_file);
    if (key == "kernel") return stat_text::store(key, value, out.memory_kernel);
    if (key == "kernel_stack" || key == "pagetables" || key == "percpu" || key == "slab" || key == "vmalloc") {
      std::uint64_t part = 0;
      BERTH_TRY_VOID(stat_text::store(key, value, part));
      kernel_parts += part;
      any_part = true;
    }
    return {};
  }));
  if (!out.memory_kernel && any_part) out.memory_kernel = kernel_parts;
  return {};
}

Result<void> parse_memory_events(std::string_view text, Statistics& out) {
  out.memory_oom.reset();
  out.memory_oom_kill.reset();
  out.memory_high_events.reset();
  out.memory_max_events.reset();
  return stat_text::for_each_key(text, [&](std::string_view key, std::string_view value) -> Result<void> {
    if (key == "oom") return stat_text::store(key, value, out.memory_oom);
    if (key == "oom_kill") return stat_text::store(key, value, out.memory_oom_kill);
    if (key == "high") return stat_text::store(key, value, out.memory_high_events);
    if (key == "max") return stat_text::store(key, value, out.memory_max_events);
    return {};
  });
}

Result<void> parse_memory_current(std::string_view text, Statistics& out) {
  BERTH_TRY(out.memory_current, stat_text::single_value(text));
  return {};
}

Result<void> parse_memory_peak(std::string_view text, Statistics& out) {
  BERTH_TRY(out.memory_peak, stat_text::single_value(text));
  return {};
}

Result<void> parse_memory_pressure(std::string_view text, Statistics& out) {
  BERTH_TRY(out.memory_pressure, stat_text::pressure(text));
  return {};
}

constexpr StatFile kStatFiles[] = {
    {"memory.current", StatScope::controller, StatPresence::required, StatKind::counters, parse_memory_current, 64},
    {"memory.peak", StatScope::controller, StatPresence::optional, StatKind::counters, parse_memory_peak, 64},
    {"memory.stat", StatScope::controller, StatPresence::required, StatKind::counters, parse_memory_stat, 4096},
    {"memory.events", StatScope::controller, StatPresence::required, StatKind::counters, parse_memory_events, 256},
    {"memory.pressure", StatScope::core, StatPresence::optional, StatKind::pressure, parse_memory_pressure, 256},
};

}  // namespace

Result<std::vector<CgroupFileWrite>> MemoryController::plan(const Limits& limits, Unset unset,
                                                            const std::filesystem::path& cgroup) const {
  BERTH_TRY_VOID(validate(limits));
  std::vector<CgroupFileWrite> writes;
  add(writes, "memory.max", as_limit(hard_limit(limits)), "max", unset);
  bool protect = limits.mem_bytes > 0 && limits.mem_limit && *limits.mem_limit > limits.mem_bytes;
  add(writes, "memory.low", as_limit(protect ? std::optional(limits.mem_bytes) : std::nullopt), "0", unset);
  add(writes, "memory.high", as_limit(limits.mem_high), "max", unset);
  Unset swap_unset = unset == Unset::restore && !has_swap_file(cgroup) ? Unset::keep : unset;
  add(writes, "memory.swap.max", as_limit(limits.swap_max_bytes), "max", swap_unset);
  writes.push_back({"memory.oom.group", "1"});
  return writes;
}

std::span<const StatFile> MemoryController::stat_files() const { return kStatFiles; }

}  // namespace berth::isolators::cgroups2
