#pragma once
// Small text helpers for the protocols Berth parses (HTTP headers, Mesos
// resource strings, registry challenges).

#include <cctype>
#include <string>
#include <string_view>

namespace berth::text {

// `s` without leading and trailing whitespace.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// ASCII lower case, as HTTP header names and auth schemes compare.
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace berth::text
