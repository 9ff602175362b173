#include "berth/fetcher/blob_store.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "berth/common/files.hpp"

namespace berth::fetcher {
namespace fs = std::filesystem;

namespace {

// A committed blob never changes; read-only stops a stray writer (or a
// container bind-mounting it) from silently corrupting shared content.
constexpr mode_t kBlobMode = 0444;

// mkostemp picks the random suffix with O_EXCL, which is what keeps
// concurrent writers of one digest apart. The file stays locked while it is
// written, so that another process opening the store (ImageStore::open) does
// not take it for a crash's leftover; if one removed it before the lock was
// taken, it has no link left and another name is tried.
Result<UniqueFd> create_ingest_file(fs::path& path) {
  for (;;) {
    std::string name = path.string() + "-XXXXXX";
    UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd) return fail_sys("mkostemp", name);
    if (::flock(fd.get(), LOCK_EX) != 0) return fail_sys("flock", name);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_sys("stat", name);
    if (st.st_nlink == 0) continue;
    path = std::move(name);
    return fd;
  }
}

std::string blob_context(std::string_view what, const Digest& digest) {
  return std::string(what) + " blob " + digest.str();
}

}  // namespace

BlobStore::BlobStore(fs::path root, BlobStoreOptions options) : root_(std::move(root)), options_(options) {}

fs::path BlobStore::blob_path(const Digest& digest) const { return root_ / "blobs" / digest.algorithm / digest.hex; }

std::string BlobStore::path(const Digest& digest) const {
  if (!validate(digest)) return {};
  return blob_path(digest).string();
}

bool BlobStore::contains(const Digest& digest) const {
  if (!validate(digest)) return false;
  struct stat st {};
  return ::stat(blob_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<BlobWriter> BlobStore::begin(const Digest& expected, std::optional<std::uint64_t> expected_size) {
  auto context = blob_context("store", expected);
  BERTH_TRY_VOID(with_context(validate(expected), context));
  if (expected_size && *expected_size > options_.max_blob_size) {
    return fail(Error("size " + std::to_string(*expected_size) + " exceeds the limit of " +
                      std::to_string(options_.max_blob_size) + " bytes")
                    .context(context));
  }
  BERTH_TRY(auto hasher, with_context(Hasher::create(expected.algorithm), context));
  fs::path ingest_dir = root_ / "ingest";
  BERTH_TRY_VOID(with_context(files::make_dirs(ingest_dir), context));
  fs::path ingest = ingest_dir / expected.file_name();
  BERTH_TRY(auto fd, with_context(create_ingest_file(ingest), context));
  BlobWriter::Target target{
      .expected = expected,
      .ingest = std::move(ingest),
      .blob = blob_path(expected),
      .limit = expected_size.value_or(options_.max_blob_size),
      .expected_size = expected_size,
  };
  return BlobWriter(std::move(target), std::move(fd), std::move(hasher));
}

Result<void> BlobStore::put(const Digest& expected, std::string_view data) {
  BERTH_TRY(auto writer, begin(expected, data.size()));
  BERTH_TRY_VOID(writer.write(data));
  return writer.commit();
}

Result<std::string> BlobStore::read(const Digest& digest) const {
  auto context = blob_context("read", digest);
  BERTH_TRY_VOID(with_context(validate(digest), context));
  fs::path file = blob_path(digest);
  BERTH_TRY(auto content, with_context(files::read(file), context));
  BERTH_TRY(auto hasher, with_context(Hasher::create(digest.algorithm), context));
  hasher.update(content);
  if (auto actual = hasher.finish(); actual != digest) {
    return fail(Error("corrupt: content on disk hashes to " + actual.str(), 0, file.string()).context(context));
  }
  return content;
}

Result<void> BlobStore::remove(const Digest& digest) {
  auto context = blob_context("remove", digest);
  BERTH_TRY_VOID(with_context(validate(digest), context));
  fs::path file = blob_path(digest);
  if (::unlink(file.c_str()) != 0) return fail(Error::sys("unlink", file.string()).context(context));
  return {};
}

BlobWriter::BlobWriter(Target target, UniqueFd fd, Hasher hasher)
    : expected_(std::move(target.expected)),
      ingest_(std::move(target.ingest)),
      blob_(std::move(target.blob)),
      limit_(target.limit),
      expected_size_(target.expected_size),
      fd_(std::move(fd)),
      hasher_(std::move(hasher)) {}

BlobWriter& BlobWriter::operator=(BlobWriter&& other) noexcept {
  if (this != &other) {
    discard();
    expected_ = std::move(other.expected_);
    ingest_ = std::move(other.ingest_);
    blob_ = std::move(other.blob_);
    limit_ = other.limit_;
    expected_size_ = other.expected_size_;
    written_ = other.written_;
    fd_ = std::move(other.fd_);
    hasher_ = std::move(other.hasher_);
  }
  return *this;
}

void BlobWriter::discard() {
  if (!fd_) return;
  fd_.reset();
  ::unlink(ingest_.c_str());
}

Result<void> BlobWriter::write(std::string_view data) {
  auto context = blob_context("write", expected_);
  if (!fd_) return fail(Error("writer is closed").context(context));
  if (data.size() > limit_ - written_) {
    discard();
    return fail(Error("more than the limit of " + std::to_string(limit_) + " bytes").context(context));
  }
  if (auto written = files::write_all(fd_.get(), data, ingest_); !written) {
    discard();
    return with_context(std::move(written), context);
  }
  hasher_.update(data);
  written_ += data.size();
  return {};
}

Result<void> BlobWriter::check_content() {
  if (expected_size_ && written_ != *expected_size_) {
    return fail("expected " + std::to_string(*expected_size_) + " bytes, got " + std::to_string(written_));
  }
  if (auto actual = hasher_.finish(); actual != expected_) {
    return fail("content does not match its digest: expected " + expected_.str() + ", got " + actual.str());
  }
  return {};
}

// The order matters for crash safety: the content is on disk (fsync) before
// its name appears in blobs/, and the directory entry is durable before
// commit() reports success.
Result<void> BlobWriter::publish() {
  if (::fchmod(fd_.get(), kBlobMode) != 0) return fail_sys("fchmod", ingest_);
  if (::fsync(fd_.get()) != 0) return fail_sys("fsync", ingest_);
  BERTH_TRY_VOID(files::make_dirs(blob_.parent_path()));
  if (::rename(ingest_.c_str(), blob_.c_str()) != 0) return fail_sys("rename", blob_);
  fd_.reset();  // renamed: nothing left to discard
  return files::fsync_dir(blob_.parent_path());
}

Result<void> BlobWriter::commit() {
  auto context = blob_context("commit", expected_);
  if (!fd_) return fail(Error("writer is closed").context(context));
  auto committed = check_content();
  if (committed) committed = publish();
  discard();
  return with_context(std::move(committed), context);
}

}  // namespace berth::fetcher
