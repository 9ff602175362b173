#include "berth/common/recordio.hpp"

#include <gtest/gtest.h>

namespace berth::recordio {
namespace {

TEST(RecordIo, EncodesLengthNewlineBytes) {
  EXPECT_EQ(encode("hello"), "5\nhello");
  EXPECT_EQ(encode(""), "0\n");
  EXPECT_EQ(encode(std::string("a\nb", 3)), std::string("3\na\nb", 5));
}

TEST(RecordIo, DecodesRecordsSplitAtEveryByteBoundary) {
  std::vector<std::string> records{"first", "", std::string(1000, 'x'), "with\nnewline", std::string("\0\1", 2)};
  std::string stream;
  for (const auto& r : records) stream += encode(r);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    Decoder decoder;
    std::vector<std::string> out;
    ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(0, split), out));
    ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(split), out));
    ASSERT_EQ(out, records) << "split at " << split;
  }
}

TEST(RecordIo, DecodesByteByByte) {
  std::string stream = encode("abc") + encode("defg");
  Decoder decoder;
  std::vector<std::string> out;
  for (char c : stream) ASSERT_TRUE(decoder.feed(std::string_view(&c, 1), out));
  EXPECT_EQ(out, (std::vector<std::string>{"abc", "defg"}));
}

TEST(RecordIo, RejectsMalformedLengths) {
  for (std::string bad : {"x\nabc", "\nabc", "1a\nb", "-1\n", "99999999999999999999\n"}) {
    Decoder decoder;
    std::vector<std::string> out;
    auto result = decoder.feed(bad, out);
    EXPECT_FALSE(result) << bad;
    EXPECT_FALSE(decoder.feed("1\na", out)) << "a failed decoder must stay failed";
  }
}

TEST(RecordIo, RejectsOversizedRecords) {
  Decoder decoder(10);
  std::vector<std::string> out;
  auto result = decoder.feed("11\n", out);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().what().find("exceeds"), std::string::npos);
  Decoder exact(10);
  EXPECT_TRUE(exact.feed("10\n0123456789", out));
  EXPECT_EQ(out.back(), "0123456789");
}

}  // namespace
}  // namespace berth::recordio
