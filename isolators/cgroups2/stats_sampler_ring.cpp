#include "stats_sampler_ring.hpp"

#include <algorithm>
#include <bitset>
#include <cerrno>

namespace berth::isolators::cgroups2 {

namespace {

// Single issuer with deferred task work (6.1): completions are run when the
// sampler waits for them, not by interrupting it.
constexpr unsigned kPreferredFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

std::size_t slot_size(const std::vector<const StatFile*>& files) {
  std::size_t size = 256;
  for (const auto* file : files) size = std::max(size, file->typical_size);
  return size;
}

}  // namespace

Result<std::unique_ptr<StatsSampler::Ring>> StatsSampler::Ring::open(const std::vector<const StatFile*>& files) {
  std::unique_ptr<Ring> ring(new Ring(slot_size(files)));
  int rc = io_uring_queue_init(kBatch, &ring->ring_, kPreferredFlags);
  if (rc == -EINVAL) rc = io_uring_queue_init(kBatch, &ring->ring_, 0);  // before 6.1
  if (rc < 0) return fail(Error("io_uring cannot sample cgroup statistics here", -rc));
  ring->initialized_ = true;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring->ring_);
  bool reads = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_READ);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!reads) {
    return fail(Error("io_uring cannot sample cgroup statistics here (no IORING_OP_READ: Linux 5.6)", EOPNOTSUPP));
  }
  return ring;
}

StatsSampler::Ring::~Ring() {
  if (initialized_) io_uring_queue_exit(&ring_);
}

bool StatsSampler::Ring::sample(StatsSampler& sampler) {
  unsigned queued = 0;
  for (std::size_t c = 0; c < sampler.samples_.size(); ++c) {
    for (std::size_t f = 0; f < sampler.files_.size(); ++f) {
      const int fd = sampler.fd(c, f);
      if (fd < 0) continue;
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_read(sqe, fd, slot(queued), static_cast<unsigned>(slot_size_), 0);
      io_uring_sqe_set_data64(sqe, queued);
      pending_[queued] = {static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(f)};
      if (++queued == kBatch) {
        if (!complete(sampler, queued)) return false;
        queued = 0;
      }
    }
  }
  return queued == 0 || complete(sampler, queued);
}

bool StatsSampler::Ring::complete(StatsSampler& sampler, unsigned queued) {
  int submitted = io_uring_submit_and_wait(&ring_, queued);
  if (submitted < 0 && submitted != -EINTR) {
    for (unsigned i = 0; i < queued; ++i) finish(sampler, i, submitted);
    return false;
  }
  std::bitset<kBatch> finished;
  for (unsigned done = 0; done < queued;) {
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) {
      for (unsigned i = 0; i < queued; ++i) {
        if (!finished[i]) finish(sampler, i, rc);
      }
      return false;
    }
    const auto index = static_cast<unsigned>(io_uring_cqe_get_data64(cqe));
    finish(sampler, index, cqe->res);
    finished.set(index);
    io_uring_cqe_seen(&ring_, cqe);
    ++done;
  }
  return true;
}

void StatsSampler::Ring::finish(StatsSampler& sampler, unsigned index, int result) {
  const auto [c, f] = pending_[index];
  if (result < 0) return sampler.read_failed(c, f, -result);
  // A full slot may be a cut: pread the whole file instead.
  if (static_cast<std::size_t>(result) == slot_size_) {
    long n = sampler.read_whole(sampler.fd(c, f));
    if (n < 0) return sampler.read_failed(c, f, static_cast<int>(-n));
    return sampler.consume(c, f, std::string_view(sampler.buffer_.data(), static_cast<std::size_t>(n)));
  }
  sampler.consume(c, f, std::string_view(slot(index), static_cast<std::size_t>(result)));
}

}  // namespace berth::isolators::cgroups2
