#include "layer_path.hpp"

#include <cstdio>

namespace berth::fetcher {

namespace {

// Enough to recognize an entry; the rest of a 4 KiB name only floods logs.
constexpr std::size_t kMaxQuotedName = 256;

std::string escape(unsigned char c) {
  char text[5];
  std::snprintf(text, sizeof text, "\\x%02x", c);
  return text;
}

}  // namespace

std::string LayerPath::str() const {
  if (is_root()) return ".";
  std::string out;
  for (const auto& component : components) {
    if (!out.empty()) out += '/';
    out += component;
  }
  return out;
}

LayerPath LayerPath::parent() const {
  LayerPath up;
  if (!is_root()) up.components.assign(components.begin(), components.end() - 1);
  return up;
}

Result<LayerPath> normalize_layer_path(std::string_view name) {
  LayerPath path;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view component = name.substr(start, end - start);
    start = end + 1;
    if (component.empty() || component == ".") continue;
    if (component == "..") {
      if (path.is_root()) return fail("path leaves the layer root");
      path.components.pop_back();
      continue;
    }
    path.components.emplace_back(component);
  }
  return path;
}

std::string escape_control_characters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? escape(byte) : std::string(1, c);
  }
  return out;
}

std::string quote_name(std::string_view name) {
  std::string out = "'";
  for (std::size_t i = 0; i < name.size() && i < kMaxQuotedName; ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '\'') {
      out += escape(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kMaxQuotedName) out += "...(" + std::to_string(name.size()) + " bytes)";
  return out + "'";
}

}  // namespace berth::fetcher
