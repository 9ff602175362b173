#include "berth/isolators/cgroup_batch.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <optional>

#include "berth/isolators/cgroupfs.hpp"

namespace berth::isolators {
namespace fs = std::filesystem;

namespace {

constexpr unsigned kRingEntries = 128;
// Three SQEs per file: a chunk of files fits a submission.
constexpr unsigned kFilesPerChunk = kRingEntries / 3;
// The same flags as cgroupfs::write_file, less O_CLOEXEC: a direct
// descriptor is never in the fd table, and openat rejects O_CLOEXEC for one.
constexpr int kOpenFlags = O_WRONLY | O_TRUNC;

Error mkdir_error(int err, const fs::path& cgroup) { return Error::sys("create cgroup", err, cgroup.string()); }

Result<void> mkdir_cgroup(const CgroupSetup& setup) {
  if (::mkdir(setup.cgroup.c_str(), setup.mode) != 0) return fail(mkdir_error(errno, setup.cgroup));
  return {};
}

Result<void> apply_with_syscalls(const CgroupSetup& setup) {
  if (setup.directory == CgroupSetup::Directory::create) BERTH_TRY_VOID(mkdir_cgroup(setup));
  for (const auto& write : setup.writes) BERTH_TRY_VOID(cgroupfs::write_file(setup.cgroup / write.file, write.value));
  return {};
}

// What each SQE of a chunk did, to name the failure.
enum class Step : std::uint8_t { open, write, close };

struct Op {
  Step step;
  std::size_t write;  // index into setup.writes
};

}  // namespace

std::string_view to_string(CgroupBatchBackend backend) {
  switch (backend) {
    case CgroupBatchBackend::automatic: return "automatic";
    case CgroupBatchBackend::io_uring: return "io_uring";
    case CgroupBatchBackend::syscalls: return "syscalls";
  }
  return "unknown";
}

class CgroupBatchWriter::Ring {
 public:
  ~Ring() {
    if (open_) io_uring_queue_exit(&ring_);
  }
  // 0 or the errno that keeps io_uring from running batches here.
  int open();
  Result<void> apply(const CgroupSetup& setup);

 private:
  Result<void> run_chunk(const CgroupSetup& setup, std::size_t first, std::size_t count);
  Result<void> first_failure(const CgroupSetup& setup, const std::vector<Op>& ops, const std::vector<int>& results);
  void release_slots(unsigned count);

  io_uring ring_{};
  bool open_ = false;
  std::vector<std::string> paths_;  // alive until the chunk completes
};

int CgroupBatchWriter::Ring::open() {
  // SUBMIT_ALL (5.18): an SQE the kernel rejects still consumes the whole
  // chain, one CQE each, so nothing is left queued for the next batch.
  if (int rc = io_uring_queue_init(kRingEntries, &ring_, IORING_SETUP_SUBMIT_ALL); rc < 0) return -rc;
  open_ = true;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) return EOPNOTSUPP;
  bool ops = io_uring_opcode_supported(probe, IORING_OP_OPENAT) && io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
             io_uring_opcode_supported(probe, IORING_OP_CLOSE);
  io_uring_free_probe(probe);
  if (!ops) return EOPNOTSUPP;
  if (int rc = io_uring_register_files_sparse(&ring_, kFilesPerChunk); rc < 0) return -rc;
  return 0;
}

void CgroupBatchWriter::Ring::release_slots(unsigned count) {
  // A chain cut short leaves files in their slots (their CLOSE was cancelled).
  std::vector<int> empty(count, -1);
  (void)io_uring_register_files_update(&ring_, 0, empty.data(), count);
}

Result<void> CgroupBatchWriter::Ring::first_failure(const CgroupSetup& setup, const std::vector<Op>& ops,
                                                    const std::vector<int>& results) {
  // Ops after a failure in the chain complete with -ECANCELED: the first
  // other outcome, in chain order, is the failure.
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const int res = results[i];
    const Op& op = ops[i];
    const auto& write = setup.writes[op.write];
    const std::string file = (setup.cgroup / write.file).string();
    if (res == -ECANCELED) continue;
    if (op.step == Step::open && res < 0) return fail(Error::sys("open", -res, file));
    if (op.step == Step::write && res < 0) return fail(Error::sys("write \"" + write.value + "\" to", -res, file));
    if (op.step == Step::write && static_cast<std::size_t>(res) != write.value.size()) {
      return fail(Error("short write", EIO, file));
    }
    if (op.step == Step::close && res < 0) return fail(Error::sys("close", -res, file));
  }
  return {};
}

Result<void> CgroupBatchWriter::Ring::run_chunk(const CgroupSetup& setup, std::size_t first, std::size_t count) {
  std::vector<Op> ops;
  paths_.clear();
  paths_.reserve(count);
  io_uring_sqe* last = nullptr;
  auto link = [&last](io_uring_sqe* sqe, std::size_t index) {
    io_uring_sqe_set_data64(sqe, index);
    sqe->flags |= IOSQE_IO_LINK;
    last = sqe;
  };
  for (std::size_t i = 0; i < count; ++i) {
    const auto& write = setup.writes[first + i];
    const auto slot = static_cast<unsigned>(i);
    paths_.push_back((setup.cgroup / write.file).string());
    io_uring_sqe* open = io_uring_get_sqe(&ring_);
    io_uring_prep_openat_direct(open, AT_FDCWD, paths_.back().c_str(), kOpenFlags, 0, slot);
    link(open, ops.size());
    ops.push_back({Step::open, first + i});
    io_uring_sqe* put = io_uring_get_sqe(&ring_);
    io_uring_prep_write(put, static_cast<int>(slot), write.value.data(), static_cast<unsigned>(write.value.size()), 0);
    put->flags |= IOSQE_FIXED_FILE;
    link(put, ops.size());
    ops.push_back({Step::write, first + i});
    io_uring_sqe* close = io_uring_get_sqe(&ring_);
    io_uring_prep_close_direct(close, slot);
    link(close, ops.size());
    ops.push_back({Step::close, first + i});
  }
  if (last == nullptr) return {};
  last->flags &= static_cast<std::uint8_t>(~IOSQE_IO_LINK);  // the chain ends here

  int submitted = io_uring_submit_and_wait(&ring_, static_cast<unsigned>(ops.size()));
  if (submitted < 0) return fail(Error::sys("io_uring_submit", -submitted, setup.cgroup.string()));
  std::vector<int> results(ops.size(), -ECANCELED);
  for (int seen = 0; seen < submitted; ++seen) {
    io_uring_cqe* cqe = nullptr;
    if (int rc = io_uring_wait_cqe(&ring_, &cqe); rc < 0) return fail(Error::sys("io_uring_wait_cqe", -rc, {}));
    results[io_uring_cqe_get_data64(cqe)] = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
  }
  auto outcome = first_failure(setup, ops, results);
  if (!outcome && count > 0) release_slots(static_cast<unsigned>(count));
  return outcome;
}

Result<void> CgroupBatchWriter::Ring::apply(const CgroupSetup& setup) {
  // mkdir(2) itself, not IORING_OP_MKDIRAT at the head of the chain: the
  // kernel's io_mkdirat() (io_uring/fs.c) sets a negative result without
  // req_set_fail(), so an EEXIST does not cancel the linked writes, which
  // would then land in someone else's cgroup. (MKDIRAT is also always punted
  // to an io-wq worker, so the syscall is the cheaper of the two.)
  if (setup.directory == CgroupSetup::Directory::create) BERTH_TRY_VOID(mkdir_cgroup(setup));
  for (std::size_t done = 0; done < setup.writes.size(); done += kFilesPerChunk) {
    BERTH_TRY_VOID(run_chunk(setup, done, std::min<std::size_t>(kFilesPerChunk, setup.writes.size() - done)));
  }
  return {};
}

CgroupBatchWriter::CgroupBatchWriter(std::unique_ptr<Ring> ring) : ring_(std::move(ring)) {}
CgroupBatchWriter::~CgroupBatchWriter() = default;

Result<std::unique_ptr<CgroupBatchWriter>> CgroupBatchWriter::create(Backend preferred) {
  if (preferred != Backend::io_uring) return std::unique_ptr<CgroupBatchWriter>(new CgroupBatchWriter(nullptr));
  auto ring = std::make_unique<Ring>();
  if (int err = ring->open(); err != 0) {
    return fail(Error("io_uring cannot run cgroup batches here (needs Linux 5.19)", err));
  }
  return std::unique_ptr<CgroupBatchWriter>(new CgroupBatchWriter(std::move(ring)));
}

bool CgroupBatchWriter::io_uring_available() { return Ring().open() == 0; }

Result<void> CgroupBatchWriter::apply(const CgroupSetup& setup) {
  return ring_ ? ring_->apply(setup) : apply_with_syscalls(setup);
}

CgroupBatchBackend CgroupBatchWriter::backend() const { return ring_ ? Backend::io_uring : Backend::syscalls; }

}  // namespace berth::isolators
