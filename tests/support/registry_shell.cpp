#include "support/registry_shell.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <stdexcept>

#include "support/process.hpp"

namespace berth::testing {
namespace fs = std::filesystem;

fs::path tool(std::string_view name) {
  if (name.find('/') != std::string_view::npos) return fs::path(name);
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"}) {
    auto candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("registry harness: tool '" + std::string(name) +
                           "' is not installed (scripts/bootstrap installs it)");
}

std::string run_tool(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                     const std::vector<std::string>& extra_env) {
  argv.at(0) = tool(argv[0]).string();
  auto result = run(argv, timeout, extra_env);
  if (result.exit_code != 0) {
    std::string command;
    for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
    throw std::runtime_error("registry harness: `" + command + "` exited " + std::to_string(result.exit_code) +
                             ":\n" + result.err + result.out.substr(0, 2000));
  }
  return std::move(result.out);
}

std::string sha256_of_file(const fs::path& file) {
  auto out = run_tool({"sha256sum", "--binary", file.string()});
  auto hex = out.substr(0, out.find(' '));
  if (hex.size() != 64) throw std::runtime_error("registry harness: sha256sum printed '" + out + "'");
  return "sha256:" + hex;
}

std::string sha256_of(std::string_view bytes) {
  char name[] = "/tmp/berth-sha256-XXXXXX";
  int fd = ::mkstemp(name);
  if (fd < 0) throw std::runtime_error("registry harness: mkstemp failed");
  ::close(fd);
  write_bytes(name, bytes);
  auto digest = sha256_of_file(name);
  ::unlink(name);
  return digest;
}

namespace {

std::string encode64(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) | std::uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  std::uint32_t n = std::uint8_t(bytes[i]) << 16;
  if (rest == 2) n |= std::uint8_t(bytes[i + 1]) << 8;
  out += alphabet[(n >> 18) & 63];
  out += alphabet[(n >> 12) & 63];
  if (rest == 2) out += alphabet[(n >> 6) & 63];
  if (pad) out.append(3 - rest, '=');
  return out;
}

}  // namespace

std::string base64(std::string_view bytes) {
  return encode64(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
}

std::string base64url(std::string_view bytes) {
  return encode64(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

void write_bytes(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw std::runtime_error("registry harness: cannot write " + file.string());
}

}  // namespace berth::testing
