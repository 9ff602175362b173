#pragma once
// StatsSampler's io_uring backend (private to the library): each sample's
// reads as batches of IORING_OP_READ, one submit_and_wait per batch.

#include <liburing.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "berth/isolators/cgroups2/stats_sampler.hpp"

namespace berth::isolators::cgroups2 {

class StatsSampler::Ring {
 public:
  static Result<std::unique_ptr<Ring>> open(const std::vector<const StatFile*>& files);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Reads every file of every container of `sampler` into its samples.
  // False when the ring itself failed (the reads it could not do are
  // recorded as errors): the caller drops it.
  bool sample(StatsSampler& sampler);

 private:
  // 32 reads in flight measured cheapest (bench/cgroup_stats_bench.cpp):
  // their buffers stay in cache, and a batch costs one syscall.
  static constexpr unsigned kBatch = 32;

  struct Pending {
    std::uint32_t container;
    std::uint32_t file;
  };

  explicit Ring(std::size_t slot_size) : slot_size_(slot_size), slots_(kBatch * slot_size) {}
  char* slot(unsigned index) { return slots_.data() + static_cast<std::size_t>(index) * slot_size_; }
  bool complete(StatsSampler& sampler, unsigned queued);
  void finish(StatsSampler& sampler, unsigned slot, int result);

  io_uring ring_{};
  bool initialized_ = false;
  std::size_t slot_size_;
  std::vector<char> slots_;
  std::array<Pending, kBatch> pending_{};
};

}  // namespace berth::isolators::cgroups2
