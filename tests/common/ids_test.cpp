#include "berth/common/ids.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace berth::ids {
namespace {

TEST(Ids, RandomUuidsAreVersion4AndDistinct) {
  std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = random_string();
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(to_bytes(random_uuid()).size(), 16u);
}

TEST(Ids, SafePathComponents) {
  EXPECT_TRUE(is_safe_path_component("task-1.a_b"));
  EXPECT_FALSE(is_safe_path_component(""));
  EXPECT_FALSE(is_safe_path_component("."));
  EXPECT_FALSE(is_safe_path_component(".."));
  EXPECT_FALSE(is_safe_path_component("a/b"));
  EXPECT_FALSE(is_safe_path_component("a b"));
  EXPECT_FALSE(is_safe_path_component(std::string(256, 'a')));
  EXPECT_FALSE(is_safe_path_component(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace berth::ids
