#include "sandbox_tail.hpp"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace berth::cli {
namespace {

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string escape_path_segment(std::string_view segment) {
  std::string out;
  for (char c : segment) {
    if (unreserved(c)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

SandboxTail::SandboxTail(std::string_view framework_id, std::string_view task_id, std::string_view file)
    : path_(fmt::format("/sandbox/{}/{}/{}", escape_path_segment(framework_id), escape_path_segment(task_id),
                        escape_path_segment(file))) {}

std::string SandboxTail::target() const { return fmt::format("{}?offset={}", path_, offset_); }

Result<SandboxTail::Chunk> SandboxTail::take(unsigned status, std::string body,
                                             std::string_view file_size_header) {
  if (status == 404) return Chunk{.data = {}, .more = false, .missing = true};
  if (status != 200) {
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    return fail(fmt::format("GET {}: {}{}{}", path_, status, body.empty() ? "" : ": ", body));
  }
  offset_ += body.size();
  Chunk chunk;
  if (auto total = parse_size(file_size_header)) {
    chunk.more = !body.empty() && *total > offset_;
  } else {
    // Without the size, only an empty answer proves the end was reached.
    chunk.more = !body.empty();
  }
  chunk.data = std::move(body);
  return chunk;
}

}  // namespace berth::cli
