#pragma once
// Reading a task's stdout or stderr from the agent's sandbox file API, a piece at
// a time: GET /sandbox/<framework>/<task>/<file>?offset=N answers 200 with the
// bytes from N to the current end (at most 1 MiB) and X-Berth-File-Size: <total>.

#include <cstdint>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::cli {

inline constexpr std::string_view kFileSizeHeader = "X-Berth-File-Size";

// RFC 3986 percent-encoding of one path segment.
std::string escape_path_segment(std::string_view segment);

class SandboxTail {
 public:
  struct Chunk {
    std::string data;
    bool more = false;     // the file held more than this answer carried: ask again now
    bool missing = false;  // 404: no such sandbox or file (yet)
  };

  SandboxTail(std::string_view framework_id, std::string_view task_id, std::string_view file);

  // The request target for the next piece.
  std::string target() const;
  std::uint64_t offset() const { return offset_; }

  // Takes the answer to a GET of target(): a 200's bytes, advancing the offset.
  // A 404 is an empty, missing chunk: the task may not have a sandbox yet. Any other
  // status is an error carrying the agent's message.
  Result<Chunk> take(unsigned status, std::string body, std::string_view file_size_header);

 private:
  std::string path_;
  std::uint64_t offset_ = 0;
};

}  // namespace berth::cli
