#include "berth/common/record.hpp"

#include <boost/crc.hpp>

#include <cstdint>

namespace berth::record {

namespace {

constexpr std::size_t kHeader = 12;

std::uint32_t crc32(std::string_view data) {
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(std::string_view in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= std::uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

}  // namespace

std::string seal(std::string_view payload) {
  std::string out(kMagic);
  out.reserve(kHeader + payload.size());
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32(payload));
  out.append(payload);
  return out;
}

Result<std::string> open(std::string_view data) {
  if (!is_record(data)) return fail(Error("not a checksummed record", EBADMSG));
  if (data.size() < kHeader) {
    return fail(Error("truncated: " + std::to_string(data.size()) + " bytes, less than a header", EBADMSG));
  }
  auto length = get_u32(data.substr(4));
  auto payload = data.substr(kHeader);
  if (payload.size() != length) {
    return fail(Error("truncated: " + std::to_string(payload.size()) + " of " + std::to_string(length) + " bytes",
                      EBADMSG));
  }
  if (crc32(payload) != get_u32(data.substr(8))) return fail(Error("checksum mismatch", EBADMSG));
  return std::string(payload);
}

}  // namespace berth::record
