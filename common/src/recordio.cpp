#include "berth/common/recordio.hpp"

#include <algorithm>

namespace berth::recordio {

std::string encode(std::string_view record) {
  std::string out = std::to_string(record.size());
  out += '\n';
  out.append(record);
  return out;
}

Result<void> Decoder::feed(std::string_view data, std::vector<std::string>& out) {
  if (failed_) return fail("recordio: the stream is corrupt");
  while (!data.empty()) {
    if (reading_body_) {
      auto take = std::min(remaining_, data.size());
      record_.append(data.substr(0, take));
      data.remove_prefix(take);
      remaining_ -= take;
      if (remaining_ == 0) {
        out.push_back(std::move(record_));
        record_.clear();
        reading_body_ = false;
      }
      continue;
    }
    char c = data.front();
    data.remove_prefix(1);
    if (c == '\n') {
      if (length_.empty()) {
        failed_ = true;
        return fail("recordio: empty record length");
      }
      remaining_ = std::stoull(length_);
      length_.clear();
      if (remaining_ > max_record_bytes_) {
        failed_ = true;
        return fail("recordio: record of " + std::to_string(remaining_) + " bytes exceeds the limit of " +
                    std::to_string(max_record_bytes_));
      }
      if (remaining_ == 0) {
        out.emplace_back();
      } else {
        reading_body_ = true;
        record_.reserve(remaining_);
      }
      continue;
    }
    if (c < '0' || c > '9') {
      failed_ = true;
      return fail(std::string("recordio: unexpected byte 0x") + "0123456789abcdef"[(c >> 4) & 0xf] +
                  "0123456789abcdef"[c & 0xf] + " in a record length");
    }
    // 20 digits overflow 64 bits; no sane record is that long anyway.
    if (length_.size() >= 19) {
      failed_ = true;
      return fail("recordio: record length has too many digits");
    }
    length_ += c;
  }
  return {};
}

}  // namespace berth::recordio
