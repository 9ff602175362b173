#include "sandbox_tail.hpp"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(SandboxTail, TargetsTheFileAtTheCurrentOffset) {
  SandboxTail tail("f-1", "echo-3f2a", "stdout");
  EXPECT_EQ(tail.target(), "/sandbox/f-1/echo-3f2a/stdout?offset=0");
  EXPECT_EQ(escape_path_segment("a b/c%~"), "a%20b%2Fc%25~");
  SandboxTail odd("f 1", "x/y", "stderr");
  EXPECT_EQ(odd.target(), "/sandbox/f%201/x%2Fy/stderr?offset=0");
}

TEST(SandboxTail, AdvancesByWhatWasReceivedAndAsksAgainWhileTheFileIsLonger) {
  SandboxTail tail("f", "t", "stdout");
  auto first = tail.take(200, "hello ", "11");
  ASSERT_TRUE(first) << first.error().what();
  EXPECT_EQ(first->data, "hello ");
  EXPECT_TRUE(first->more);
  EXPECT_EQ(tail.offset(), 6u);
  EXPECT_EQ(tail.target(), "/sandbox/f/t/stdout?offset=6");

  auto second = tail.take(200, "world", "11");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->data, "world");
  EXPECT_FALSE(second->more);
  EXPECT_EQ(tail.offset(), 11u);

  auto nothing = tail.take(200, "", "11");
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->data.empty());
  EXPECT_FALSE(nothing->more);
  EXPECT_EQ(tail.offset(), 11u);
}

TEST(SandboxTail, WithoutASizeOnlyAnEmptyAnswerEndsTheFile) {
  SandboxTail tail("f", "t", "stderr");
  auto chunk = tail.take(200, "abc", "");
  ASSERT_TRUE(chunk);
  EXPECT_TRUE(chunk->more);
  chunk = tail.take(200, "", "garbage");
  ASSERT_TRUE(chunk);
  EXPECT_FALSE(chunk->more);
}

TEST(SandboxTail, NotFoundIsAMissingFileOtherStatusesAreErrors) {
  SandboxTail tail("f", "t", "stdout");
  auto missing = tail.take(404, "no such sandbox\n", "");
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->missing);
  EXPECT_FALSE(missing->more);
  EXPECT_EQ(tail.offset(), 0u);

  auto broken = tail.take(500, "disk on fire\n", "");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().message(), "GET /sandbox/f/t/stdout: 500: disk on fire");
  EXPECT_EQ(tail.offset(), 0u);
}

}  // namespace
}  // namespace berth::cli
