#pragma once
// Small file helpers with errors that name the path.

#include <filesystem>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::files {

Result<std::string> read(const std::filesystem::path& path);
// write(2) until all of `data` is written; `path` names the file in errors.
Result<void> write_all(int fd, std::string_view data, const std::filesystem::path& path);
// fsync(2) of a directory, so a rename or create inside it is durable.
Result<void> fsync_dir(const std::filesystem::path& dir);
// Writes to a temporary in the same directory, fsyncs it, renames it over `path`
// and fsyncs the directory, so a crash leaves either the old or the new content.
Result<void> write_atomic(const std::filesystem::path& path, std::string_view data);
Result<void> make_dirs(const std::filesystem::path& path);
Result<void> remove_all(const std::filesystem::path& path);

}  // namespace berth::files
