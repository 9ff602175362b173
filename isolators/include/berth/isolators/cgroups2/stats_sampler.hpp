#pragma once
// Statistics of many containers at a low CPU cost, for periodic sampling
// (the agent's /containers and /metrics).
//
// Each container's stat files are opened once, when it is added, and kept
// open: a sample reads each from offset 0, where cgroupfs (kernfs seq_file)
// regenerates the content, so there is no open, close or path walk per
// sample (reopening costs 3-5x more; bench/cgroup_stats_bench.cpp). The
// reads go through pread(2), or as batches of io_uring READs, which cgroupfs
// completes inline (no io-wq worker, 6.1 and 6.18): one syscall per batch
// instead of one per file. Parsing reuses each container's Statistics and
// allocates nothing in steady state.
//
// Cost: the open files. Each holds a struct file and, after its first read,
// its seq_file buffer (a page) in the kernel: ~4.5 KB of kernel memory per
// file, 11 files per container with every controller (~50 KB), 4 with the
// core files alone. A sampler of 1,000 containers needs RLIMIT_NOFILE above
// 11,000.
//
// Not thread-safe: one thread samples (the io_uring ring is single-issuer).

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/common/fd.hpp"
#include "berth/isolators/cgroups2/controller.hpp"
#include "berth/isolators/cgroups2/statistics.hpp"

namespace berth::isolators::cgroups2 {

enum class SamplerBackend { automatic, io_uring, pread };
std::string_view to_string(SamplerBackend backend);

// Whether samples include the *.pressure files (3 of a container's reads,
// and among the costlier ones: PSI aggregates every CPU's counters).
enum class PressureFiles { read, skip };

struct StatsSamplerOptions {
  // The controllers whose own files are read (CgroupsIsolator::
  // enabled_controllers()); of the others, only their core files.
  std::vector<std::string> enabled = {};
  PressureFiles pressure = PressureFiles::read;
  // automatic: pread where the kernel has no io_uring; otherwise both, in
  // turn, on the first samples of enough containers, keeping the one that
  // cost this process less CPU. (io_uring took 40% less than pread on the
  // 6.18 build host, whose syscalls are costly, and 30% more in the
  // TCG-emulated 6.1 test VM.)
  SamplerBackend backend = SamplerBackend::automatic;
};

struct ContainerSample {
  std::string container_id;
  // An error (naming the file): this container could not be read this time,
  // e.g. its cgroup was removed; the others are unaffected.
  Result<void> status;
  Statistics statistics;  // meaningful when status holds no error
};

class StatsSampler {
 public:
  static Result<std::unique_ptr<StatsSampler>> create(const StatsSamplerOptions& options);
  ~StatsSampler();
  StatsSampler(const StatsSampler&) = delete;
  StatsSampler& operator=(const StatsSampler&) = delete;

  // Opens the container's stat files in `cgroup` and keeps them open until
  // remove(). A required file that is missing is an error; nothing is kept.
  Result<void> add(const std::string& container_id, const std::filesystem::path& cgroup);
  // Closes the container's files. Unknown ids are ignored. The last
  // container added takes the removed one's place in the samples.
  void remove(const std::string& container_id);

  // Reads every container's files once; one sample per container, in the
  // order they were added (but for remove()). The result stays valid until
  // the next call of sample, add or remove.
  std::span<const ContainerSample> sample();

  std::size_t size() const { return samples_.size(); }
  // The files each container keeps open.
  std::size_t files_per_container() const { return files_.size(); }
  // The backend reading now (while `automatic` calibrates: the next one).
  SamplerBackend backend() const;

 private:
  class Ring;
  // `automatic` on a kernel with io_uring, until one backend is kept.
  struct Calibration {
    static constexpr int kRounds = 4;                  // two samples with each backend, in turn
    static constexpr std::size_t kMinContainers = 64;  // fewer: too cheap to tell apart
    int rounds = 0;
    double io_uring_ns = 0, pread_ns = 0;              // process CPU spent by each
  };
  StatsSampler(std::vector<const StatFile*> files, std::unique_ptr<Ring> ring,
               std::optional<Calibration> calibration);

  void read_all(SamplerBackend backend);
  void calibrate(SamplerBackend used, double cpu_ns);

  int fd(std::size_t container, std::size_t file) const { return fds_[container * files_.size() + file].get(); }
  // Parses what was read of `file` of `container`, or records why it failed.
  void consume(std::size_t container, std::size_t file, std::string_view text);
  void read_failed(std::size_t container, std::size_t file, int error);
  // pread from offset 0 into buffer_, grown until the content fits; -errno on failure.
  long read_whole(int fd);
  void sample_with_pread();

  std::vector<const StatFile*> files_;
  std::unique_ptr<Ring> ring_;  // null: pread
  std::optional<Calibration> calibration_;
  std::vector<ContainerSample> samples_;
  std::vector<std::filesystem::path> cgroups_;
  std::vector<UniqueFd> fds_;  // files_.size() per container; invalid for an optional file that is absent
  std::vector<char> buffer_;
};

}  // namespace berth::isolators::cgroups2
