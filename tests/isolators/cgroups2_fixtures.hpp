#pragma once
// cgroup v2 files as the kernel prints them, copied from a container's
// cgroup: Debian's 6.1 kernel in the test VM (tests/vm; every controller) and,
// for the core files, the 6.18 hybrid build host. Where a comment says
// "values illustrative", the layout is the kernel's and the numbers are made
// up (a state the VM does not reach easily). A fixture cgroup is a temp
// directory of these.

#include <filesystem>
#include <ostream>
#include <string>

#include "berth/isolators/cgroup_batch.hpp"
#include "isolators/isolators_test_util.hpp"

namespace berth::isolators {
// For gtest's failure messages.
inline void PrintTo(const CgroupFileWrite& write, std::ostream* out) {
  *out << write.file << " <- \"" << write.value << "\"";
}
}  // namespace berth::isolators

namespace berth::isolators::testing {

// cpu.stat with the cpu controller (6.1).
inline constexpr char kCpuStat[] =
    "usage_usec 71883\nuser_usec 0\nsystem_usec 71883\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
    "nr_bursts 0\nburst_usec 0\n";
// cpu.stat without it: the hybrid host's cgroup2, where only hugetlb is
// offered (6.18; values illustrative).
inline constexpr char kCoreCpuStat[] = "usage_usec 1520\nuser_usec 1000\nsystem_usec 520\nnice_usec 0\n";
inline constexpr char kCpuPressure[] =
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=428\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=428\n";
// A stalled cgroup's memory.pressure (values illustrative).
inline constexpr char kMemoryPressure[] =
    "some avg10=1.52 avg60=0.40 avg300=0.09 total=361482\nfull avg10=0.75 avg60=0.20 avg300=0.04 total=180111\n";
inline constexpr char kIoPressure[] =
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

// 6.1, a cgroup that wrote 4 MiB to a tmpfs.
inline constexpr char kMemoryStat[] =
    "anon 0\nfile 4194304\nkernel 16384\nkernel_stack 0\npagetables 0\nsec_pagetables 0\npercpu 0\nsock 0\n"
    "vmalloc 0\nshmem 4194304\nzswap 0\nzswapped 0\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\n"
    "swapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 4194304\nactive_anon 0\n"
    "inactive_file 0\nactive_file 0\nunevictable 0\nslab_reclaimable 8488\nslab_unreclaimable 1632\n"
    "slab 10120\nworkingset_refault_anon 0\nworkingset_refault_file 0\nworkingset_activate_anon 0\n"
    "workingset_activate_file 0\nworkingset_restore_anon 0\nworkingset_restore_file 0\n"
    "workingset_nodereclaim 0\npgscan 0\npgsteal 0\npgscan_kswapd 0\npgscan_direct 0\npgsteal_kswapd 0\n"
    "pgsteal_direct 0\npgfault 327\npgmajfault 0\npgrefill 0\npgactivate 0\npgdeactivate 0\npglazyfree 0\n"
    "pglazyfreed 0\nzswpin 0\nzswpout 0\nthp_fault_alloc 0\nthp_collapse_alloc 0\n";
// memory.stat of a kernel before 5.18 (no "kernel" key), abridged (values
// illustrative).
inline constexpr char kMemoryStatBefore518[] =
    "anon 1937408\nfile 4096000\nkernel_stack 49152\npagetables 126976\npercpu 2880\nsock 8192\nshmem 0\n"
    "file_mapped 2297856\nfile_dirty 0\nslab_reclaimable 170392\nslab_unreclaimable 264440\nslab 434832\n"
    "pgfault 2590\n";
// 6.1, after a tmpfs writer was OOM-killed at memory.max = 8M with oom.group 1.
inline constexpr char kMemoryEventsAfterOom[] = "low 0\nhigh 0\nmax 39\noom 1\noom_kill 2\noom_group_kill 1\n";
inline constexpr char kMemoryEventsQuiet[] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n";
// 6.1, after a shell was refused a fork at pids.max = 2.
inline constexpr char kPidsEventsAfterRefusal[] = "max 1\n";
// 6.1, a cgroup that read 1 MiB from and wrote 12 KiB to /dev/vda (254:0).
inline constexpr char kIoStat[] = "254:0 rbytes=1048576 wbytes=12288 rios=16 wios=3 dbytes=0 dios=0\n";
// io.max as the kernel prints a device's limits: every key, "max" for none.
inline constexpr char kIoMax[] = "254:0 rbps=1048576 wbps=max riops=max wiops=120\n";

// Writes `files` (name, content) into `dir`.
inline void write_fixture(const std::filesystem::path& dir,
                          std::initializer_list<std::pair<const char*, std::string>> files) {
  for (const auto& [name, content] : files) write_text(dir / name, content);
}

// A fresh cgroup of the VM (6.1, every controller) with its interface files
// at their defaults, plus the stat files above.
inline void full_cgroup(const std::filesystem::path& dir) {
  write_fixture(dir, {{"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"},
                      {"cpu.stat", kCpuStat},
                      {"cpu.pressure", kCpuPressure},
                      {"cpu.weight", "100\n"},
                      {"cpu.max", "max 100000\n"},
                      {"memory.current", "4567040\n"},
                      {"memory.peak", "5767168\n"},
                      {"memory.stat", kMemoryStat},
                      {"memory.events", kMemoryEventsQuiet},
                      {"memory.pressure", kMemoryPressure},
                      {"memory.max", "max\n"},
                      {"memory.low", "0\n"},
                      {"memory.high", "max\n"},
                      {"memory.swap.max", "max\n"},
                      {"memory.oom.group", "0\n"},
                      {"pids.current", "0\n"},
                      {"pids.events", "max 0\n"},
                      {"pids.max", "max\n"},
                      {"io.stat", kIoStat},
                      {"io.max", ""},
                      {"io.weight", "default 100\n"},
                      {"io.pressure", kIoPressure},
                      {"cpuset.cpus", "\n"},
                      {"cpuset.mems", "\n"},
                      {"hugetlb.2MB.max", "max\n"},
                      {"hugetlb.2MB.rsvd.max", "max\n"},
                      {"hugetlb.1GB.max", "max\n"},
                      {"hugetlb.1GB.rsvd.max", "max\n"}});
}

// A child cgroup of the hybrid host's cgroup2: core files only.
inline void core_cgroup(const std::filesystem::path& dir) {
  write_fixture(dir, {{"cgroup.controllers", "hugetlb\n"},
                      {"cpu.stat", kCoreCpuStat},
                      {"cpu.pressure", kCpuPressure},
                      {"memory.pressure", kIoPressure},
                      {"io.pressure", kIoPressure}});
}

}  // namespace berth::isolators::testing
