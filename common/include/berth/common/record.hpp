#pragma once
// Checkpoint records that tell a damaged file from a good one. A record is
//   "BRC1" | payload length (u32, little endian) | CRC-32 of the payload (u32, LE) | payload
// so that a truncated, bit-flipped or foreign file is an error naming what is
// wrong, never a payload that merely happens to parse.

#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::record {

inline constexpr std::string_view kMagic = "BRC1";

std::string seal(std::string_view payload);
// The payload; errors: "not a checksummed record", "truncated: N of M bytes",
// "checksum mismatch" (EBADMSG for all of them).
Result<std::string> open(std::string_view data);
// Whether `data` begins as a record does (a file written before records existed does not).
inline bool is_record(std::string_view data) { return data.starts_with(kMagic); }

}  // namespace berth::record
