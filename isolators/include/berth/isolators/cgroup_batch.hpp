#pragma once
// A container's cgroup set-up file work as one batch: mkdir of its cgroup,
// then each limit write (open, one write(2), close) in order, stopping at the
// first failure. Two backends with the same results and the same errors:
//   io_uring  mkdir(2), then all the file work as one linked chain
//             (IOSQE_IO_LINK) in one submission: per file, OPENAT into a
//             registered (direct) file slot, WRITE through IOSQE_FIXED_FILE,
//             CLOSE of the slot. A failure cancels the rest of the chain.
//             Needs Linux 5.19 (sparse registered file tables); probed at
//             run time. (Why the mkdir is not in the chain: cgroup_batch.cpp.)
//   syscalls  mkdir(2), open(2), write(2), close(2).
// Errors name the file (or the cgroup directory) and carry the errno, as
// cgroupfs::write_file's do. What was done before the failure stays done: the
// caller removes the cgroup.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::isolators {

struct CgroupFileWrite {
  std::string file;   // relative to the cgroup, e.g. "memory.max"
  std::string value;  // written in one write(2): cgroupfs parses each write on its own
  friend bool operator==(const CgroupFileWrite&, const CgroupFileWrite&) = default;
};

struct CgroupSetup {
  enum class Directory { create, existing };
  std::filesystem::path cgroup = {};
  // `create`: mkdir `cgroup` first (EEXIST if it is there); `existing`: only write.
  Directory directory = Directory::create;
  mode_t mode = 0755;
  std::vector<CgroupFileWrite> writes = {};
};

enum class CgroupBatchBackend { automatic, io_uring, syscalls };
std::string_view to_string(CgroupBatchBackend backend);

class CgroupBatchWriter {
 public:
  using Backend = CgroupBatchBackend;

  // `automatic` picks syscalls: cgroupfs (kernfs) files cannot be written
  // without blocking, so io_uring hands every open/write/close to an io-wq
  // worker, and the chain measured about 3x slower than plain syscalls and
  // costlier in CPU (bench/cgroup_setup_bench.cpp: 4 files, 130 us against
  // 42 us, Linux 6.18; IOSQE_ASYNC on every SQE was slower still). Naming
  // io_uring forces it and fails (ENOSYS/EPERM/EOPNOTSUPP) where the kernel
  // or a sandbox does not offer it.
  static Result<std::unique_ptr<CgroupBatchWriter>> create(Backend preferred = Backend::automatic);
  // Whether this host's io_uring can run the batch.
  static bool io_uring_available();

  ~CgroupBatchWriter();
  CgroupBatchWriter(const CgroupBatchWriter&) = delete;
  CgroupBatchWriter& operator=(const CgroupBatchWriter&) = delete;

  Result<void> apply(const CgroupSetup& setup);
  Backend backend() const;

 private:
  class Ring;
  explicit CgroupBatchWriter(std::unique_ptr<Ring> ring);
  std::unique_ptr<Ring> ring_;  // null: syscalls
};

}  // namespace berth::isolators
