#include "berth/fetcher/digest.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace berth::fetcher {
namespace {

// FIPS 180-2 test vectors.
constexpr const char* kSha256Empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha256MillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
constexpr const char* kSha256TwoBlocks = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr const char* kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_of(""), (Digest{"sha256", kSha256Empty}));
  EXPECT_EQ(sha256_of("abc"), (Digest{"sha256", kSha256Abc}));
  EXPECT_EQ(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex, kSha256TwoBlocks);
  EXPECT_EQ(sha256_of(std::string(1'000'000, 'a')).hex, kSha256MillionA);
  EXPECT_EQ(sha256_of("abc").str(), std::string("sha256:") + kSha256Abc);
}

TEST(Sha256, IncrementalMatchesOneShotAcrossOddChunkSizes) {
  std::string data(1'000'000, 'a');
  Sha256 hasher;
  std::size_t chunk = 1;
  for (std::size_t at = 0; at < data.size(); at += chunk, chunk = chunk * 3 + 1) {
    hasher.update(std::string_view(data).substr(at, chunk));
  }
  EXPECT_EQ(hasher.finish().hex, kSha256MillionA);
}

TEST(Sha256, FinishStartsOver) {
  Sha256 hasher;
  hasher.update("a");
  hasher.update("bc");
  EXPECT_EQ(hasher.finish().hex, kSha256Abc);
  EXPECT_EQ(hasher.finish().hex, kSha256Empty);
  hasher.update("abc");
  EXPECT_EQ(hasher.finish().hex, kSha256Abc);
}

TEST(Hasher, Sha512AndUnsupportedAlgorithms) {
  auto sha512 = Hasher::create("sha512");
  ASSERT_TRUE(sha512.has_value()) << sha512.error().what();
  sha512->update("abc");
  EXPECT_EQ(sha512->finish(), (Digest{"sha512", kSha512Abc}));

  auto md5 = Hasher::create("md5");
  ASSERT_FALSE(md5.has_value());
  EXPECT_NE(md5.error().message().find("unsupported digest algorithm 'md5'"), std::string::npos)
      << md5.error().message();
}

TEST(ParseDigest, AcceptsSha256AndSha512) {
  auto sha256 = parse_digest(std::string("sha256:") + kSha256Abc);
  ASSERT_TRUE(sha256.has_value()) << sha256.error().what();
  EXPECT_EQ(*sha256, (Digest{"sha256", kSha256Abc}));
  EXPECT_EQ(sha256->str(), std::string("sha256:") + kSha256Abc);

  auto sha512 = parse_digest(std::string("sha512:") + kSha512Abc);
  ASSERT_TRUE(sha512.has_value()) << sha512.error().what();
  EXPECT_EQ(sha512->algorithm, "sha512");
  EXPECT_EQ(sha512->hex, kSha512Abc);
}

struct BadDigest {
  std::string text;
  std::string reason;  // a piece of the expected error message
};

TEST(ParseDigest, RejectsWithReason) {
  const std::string hex64(kSha256Abc);
  std::string upper = hex64;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  const BadDigest cases[] = {
      {"", "expected <algorithm>:<hex>"},
      {hex64, "expected <algorithm>:<hex>"},
      {"sha256:", "needs 64 hex characters, got 0"},
      {"sha256:abc", "needs 64 hex characters, got 3"},
      {"sha256:" + hex64 + "0", "needs 64 hex characters, got 65"},
      {"sha512:" + hex64, "needs 128 hex characters, got 64"},
      {"sha256:" + upper, "must be lowercase"},
      {"sha256:" + hex64.substr(1) + "g", "found 'g'"},
      {"md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm 'md5'"},
      {"SHA256:" + hex64, "unsupported digest algorithm 'SHA256'"},
      {":" + hex64, "unsupported digest algorithm ''"},
      {"sha256:" + hex64.substr(0, 32) + ":" + hex64.substr(33), "found ':'"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_digest(c.text);
    ASSERT_FALSE(parsed.has_value()) << c.text;
    const std::string& message = parsed.error().message();
    EXPECT_NE(message.find("invalid digest '" + c.text + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(c.reason), std::string::npos) << c.text << " -> " << message;
  }
}

TEST(Validate, RefusesHandBuiltDigestsThatCouldEscapeAPath) {
  EXPECT_TRUE(validate(sha256_of("x")).has_value());
  EXPECT_FALSE(validate(Digest{"sha256", "../../../etc/passwd"}).has_value());
  EXPECT_FALSE(validate(Digest{"../sha256", kSha256Abc}).has_value());
  EXPECT_FALSE(validate(Digest{"sha256", std::string(kSha256Abc).substr(0, 63) + "/"}).has_value());
  EXPECT_FALSE(validate(Digest{}).has_value());
}

}  // namespace
}  // namespace berth::fetcher
