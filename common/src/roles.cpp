#include "berth/common/roles.hpp"

#include <fmt/format.h>

#include <cctype>

namespace berth::roles {

Result<void> validate(std::string_view role) {
  if (role == kDefault) return {};
  if (role.empty()) return fail("a role name must not be empty");
  if (role.front() == '/' || role.back() == '/') {
    return fail(fmt::format("role '{}' must not start or end with '/'", role));
  }
  for (std::size_t start = 0; start <= role.size();) {
    auto end = role.find('/', start);
    if (end == std::string_view::npos) end = role.size();
    auto segment = role.substr(start, end - start);
    if (segment.empty()) return fail(fmt::format("role '{}' has an empty segment", role));
    if (segment == "." || segment == ".." || segment == "*") {
      return fail(fmt::format("role '{}': '{}' is not a valid segment", role, segment));
    }
    if (segment.front() == '-') return fail(fmt::format("role '{}': a segment must not start with '-'", role));
    for (char c : segment) {
      auto u = static_cast<unsigned char>(c);
      if (std::isspace(u) || std::iscntrl(u) || c == '\\') {
        return fail(fmt::format("role '{}' holds a whitespace, control or backslash character", role));
      }
    }
    start = end + 1;
  }
  return {};
}

std::vector<std::string> path(std::string_view role) {
  std::vector<std::string> out;
  for (std::size_t slash = role.find('/'); slash != std::string_view::npos; slash = role.find('/', slash + 1)) {
    out.emplace_back(role.substr(0, slash));
  }
  out.emplace_back(role);
  return out;
}

bool is_strict_subrole(std::string_view role, std::string_view parent) {
  return role.size() > parent.size() && role.starts_with(parent) && role[parent.size()] == '/' &&
         parent != kDefault;
}

}  // namespace berth::roles
