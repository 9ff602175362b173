#include "berth/common/record.hpp"

#include <gtest/gtest.h>

namespace berth::record {
namespace {

TEST(Record, RoundTripsAnyPayload) {
  for (std::string payload : {std::string(), std::string("status"), std::string(100000, '\0')}) {
    auto sealed = seal(payload);
    EXPECT_TRUE(is_record(sealed));
    auto opened = open(sealed);
    ASSERT_TRUE(opened) << opened.error().what();
    EXPECT_EQ(*opened, payload);
  }
}

TEST(Record, EveryFlippedBitAndEveryTruncationIsCaught) {
  auto sealed = seal("a task's latest status, as protobuf");
  for (std::size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    auto damaged = sealed;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    auto opened = open(damaged);
    EXPECT_FALSE(opened) << "bit " << bit;
    if (!opened) {
      EXPECT_EQ(opened.error().code(), EBADMSG);
    }
  }
  for (std::size_t size = 0; size < sealed.size(); ++size) {
    EXPECT_FALSE(open(std::string_view(sealed).substr(0, size))) << size << " bytes";
  }
  EXPECT_EQ(open(sealed.substr(0, 20)).error().message(), "truncated: 8 of 35 bytes");
  EXPECT_EQ(open(sealed.substr(0, 6)).error().message(), "truncated: 6 bytes, less than a header");
  EXPECT_EQ(open(std::string("\x0a\x03") + "abc").error().message(), "not a checksummed record");
  auto flipped = sealed;
  flipped.back() ^= 1;
  EXPECT_EQ(open(flipped).error().message(), "checksum mismatch");
}

}  // namespace
}  // namespace berth::record
