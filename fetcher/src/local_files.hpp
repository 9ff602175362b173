#pragma once
// The files of an offline image: a directory (an OCI layout) or a tar
// archive of one (oci-archive, docker-archive), read by name. A name is
// relative and '/'-separated; it never resolves outside the directory or
// the archive, whatever symlinks the image holds.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::fetcher {

class LocalFiles {
 public:
  using Sink = std::function<Result<void>(std::string_view chunk)>;
  virtual ~LocalFiles() = default;
  // Where the files are, for errors.
  virtual const std::string& where() const = 0;
  // Streams the regular file `name` to `sink`; more than `limit` bytes is an
  // error. A missing file is an error with errno ENOENT.
  virtual Result<void> read(std::string_view name, std::uint64_t limit, const Sink& sink) = 0;
  // The size of the regular file `name`; ENOENT as read() gives it.
  virtual Result<std::uint64_t> size(std::string_view name) = 0;
  Result<std::string> read_all(std::string_view name, std::uint64_t limit);
  // Up to `count` bytes from the start of `name`.
  Result<std::string> read_prefix(std::string_view name, std::size_t count);
};

Result<std::unique_ptr<LocalFiles>> directory_files(const std::filesystem::path& dir);
// Tar (plain, gzip or zstd). Each read scans the archive's headers from the
// start, skipping content by seeking: archives of images hold few entries,
// and this keeps parallel reads independent.
Result<std::unique_ptr<LocalFiles>> archive_files(const std::filesystem::path& archive);

}  // namespace berth::fetcher
