#pragma once
// Logging: spdlog with one process-wide logger, configured from flags.

#include <spdlog/spdlog.h>

#include <string>

namespace berth::log {

// level: trace|debug|info|warn|error|off. Logs go to stderr.
void init(const std::string& program, const std::string& level);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace berth::log
