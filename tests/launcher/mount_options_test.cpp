#include "berth/launcher/mount_options.hpp"

#include <sys/mount.h>

#include <gtest/gtest.h>

namespace berth::launcher {
namespace {

MountOptions parse(std::vector<std::string> options, bool bind_type = false) {
  auto parsed = parse_mount_options(options, bind_type);
  if (!parsed) ADD_FAILURE() << parsed.error().message();
  return parsed.value_or(MountOptions{});
}

TEST(MountOptionsTest, FlagsBecomeMsBits) {
  auto o = parse({"nosuid", "nodev", "noexec", "ro"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY));
  EXPECT_EQ(o.data, "");
  EXPECT_FALSE(o.bind);
}

TEST(MountOptionsTest, LaterOptionsWin) {
  EXPECT_EQ(parse({"ro", "rw"}).flags, 0UL);
  EXPECT_EQ(parse({"noexec", "exec", "nosuid"}).flags, static_cast<unsigned long>(MS_NOSUID));
  EXPECT_EQ(parse({"noatime", "strictatime"}).flags, static_cast<unsigned long>(MS_STRICTATIME));
}

TEST(MountOptionsTest, FilesystemOptionsGoToTheDataString) {
  auto devpts = parse({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  EXPECT_EQ(devpts.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_EQ(devpts.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
}

TEST(MountOptionsTest, AnUnknownWordIsAnErrorNamingIt) {
  auto parsed = parse_mount_options(std::vector<std::string>{"nosuid", "nosiud"});
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message(), "unknown mount option 'nosiud'");
}

TEST(MountOptionsTest, BindFlagsAreSetAfterwardsThroughMountAttributes) {
  auto o = parse({"rbind", "ro", "nosuid"});
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursive);
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_EQ(o.attr_set, static_cast<std::uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID));
  EXPECT_EQ(o.attr_clr, 0U);
}

TEST(MountOptionsTest, TypeBindIsANonRecursiveBind) {
  auto o = parse({"noatime"}, true);
  EXPECT_TRUE(o.bind);
  EXPECT_FALSE(o.recursive);
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_BIND));
  EXPECT_EQ(o.attr_set, static_cast<std::uint64_t>(MOUNT_ATTR_NOATIME));
  EXPECT_EQ(o.attr_clr, static_cast<std::uint64_t>(MOUNT_ATTR__ATIME));
}

TEST(MountOptionsTest, PropagationOptions) {
  EXPECT_EQ(parse({"rslave"}).propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(parse({"bind", "private"}).propagation, static_cast<unsigned long>(MS_PRIVATE));
  EXPECT_EQ(propagation_flags("runbindable"), MS_UNBINDABLE | MS_REC);
  EXPECT_EQ(propagation_flags("rshared"), MS_SHARED | MS_REC);
  EXPECT_FALSE(propagation_flags("").has_value());
  EXPECT_FALSE(propagation_flags("bogus").has_value());
}

}  // namespace
}  // namespace berth::launcher
