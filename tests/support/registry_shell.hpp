#pragma once
// The registry harness drives real tools (openssl, curl, skopeo, umoci, tar,
// gzip, zstd, sha256sum): test code may shell out, product code never does.
// Failures throw std::runtime_error carrying the command and its output, so a
// harness problem reads as what it is rather than as a fetcher bug.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace berth::testing {

// The absolute path of a tool from the Debian packages scripts/bootstrap installs;
// throws naming the tool when it is missing.
std::filesystem::path tool(std::string_view name);

// Runs `argv` (argv[0] a tool name or a path) and returns its stdout; throws
// unless it exits 0 within `timeout`.
std::string run_tool(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(120),
                     const std::vector<std::string>& extra_env = {});

// "sha256:<hex>" of a file's or a string's bytes.
std::string sha256_of_file(const std::filesystem::path& file);
std::string sha256_of(std::string_view bytes);

std::string base64(std::string_view bytes);
std::string base64url(std::string_view bytes);  // RFC 7515: URL alphabet, no padding
std::string percent_decode(std::string_view text);

void write_bytes(const std::filesystem::path& file, std::string_view bytes);

}  // namespace berth::testing
