#pragma once
// RecordIO, the framing of Mesos's streaming HTTP APIs: each record is its
// length in decimal, a newline, then exactly that many bytes.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::recordio {

std::string encode(std::string_view record);

class Decoder {
 public:
  explicit Decoder(std::size_t max_record_bytes = 64 << 20) : max_record_bytes_(max_record_bytes) {}
  // Appends each record completed by `data` to `out`. After an error the
  // stream is unusable and every later call fails.
  Result<void> feed(std::string_view data, std::vector<std::string>& out);

 private:
  std::size_t max_record_bytes_;
  std::string length_;        // digits of the length being read
  bool reading_body_ = false;
  std::size_t remaining_ = 0;
  std::string record_;
  bool failed_ = false;
};

}  // namespace berth::recordio
