// The runtime's per-container state: ids, the stored document, the lock.

#include <gtest/gtest.h>
#include <sys/file.h>

#include <boost/json.hpp>

#include "berth/runtime/commands.hpp"
#include "berth/runtime/state_store.hpp"
#include "support/temp_dir.hpp"

namespace berth::runtime {
namespace {

using berth::testing::TempDir;
namespace json = boost::json;

ContainerState sample(std::string id) {
  return ContainerState{.id = std::move(id),
                        .status = Status::created,
                        .pid = 4242,
                        .start_time = 987654,
                        .bundle = "/srv/bundles/web",
                        .cgroup = "/sys/fs/cgroup/berth-runtime/web",
                        .created = "2026-11-23T10:00:00.000000000Z",
                        .annotations = {{"org.example.team", "infra"}}};
}

TEST(ContainerIdTest, AcceptsTheUsualCharactersAndRejectsPathsAndEmpty) {
  EXPECT_TRUE(check_id("web-1.blue_2+x"));
  for (std::string bad : {"", ".", "..", "a/b", "../etc", "has space", "tab\t"}) {
    auto checked = check_id(bad);
    ASSERT_FALSE(checked) << "'" << bad << "'";
    EXPECT_NE(checked.error().what().find("container id"), std::string::npos) << checked.error().what();
  }
  EXPECT_FALSE(check_id(std::string(1025, 'a')));
}

TEST(StateStoreTest, SavedStateLoadsBackIdentically) {
  TempDir root;
  StateStore store(root.path());
  ASSERT_TRUE(store.create("web"));
  ASSERT_TRUE(store.save(sample("web")));
  auto loaded = store.load("web");
  ASSERT_TRUE(loaded) << loaded.error().what();
  EXPECT_EQ(loaded->status, Status::created);
  EXPECT_EQ(loaded->pid, 4242);
  EXPECT_EQ(loaded->start_time, 987654u);
  EXPECT_EQ(loaded->bundle, "/srv/bundles/web");
  EXPECT_EQ(loaded->cgroup, "/sys/fs/cgroup/berth-runtime/web");
  EXPECT_EQ(loaded->created, "2026-11-23T10:00:00.000000000Z");
  EXPECT_EQ(loaded->annotations.at("org.example.team"), "infra");
}

TEST(StateStoreTest, CreatingAnExistingContainerFailsNamingIt) {
  TempDir root;
  StateStore store(root.path());
  ASSERT_TRUE(store.create("web"));
  auto again = store.create("web");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().what(), "container 'web' already exists");
}

TEST(StateStoreTest, UnknownContainersAreReportedByName) {
  TempDir root;
  StateStore store(root.path());
  auto loaded = store.load("ghost");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().what(), "container 'ghost' does not exist");
  auto locked = store.lock("ghost");
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().what(), "container 'ghost' does not exist");
}

TEST(StateStoreTest, CorruptStateNamesTheFileAndTheField) {
  TempDir root;
  StateStore store(root.path());
  ASSERT_TRUE(store.create("web"));
  berth::testing::write_text(store.dir("web") / "state.json", R"({"id":"web","status":"created"})");
  auto loaded = store.load("web");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().what().find("state.json"), std::string::npos) << loaded.error().what();
  EXPECT_NE(loaded.error().what().find("missing 'pid'"), std::string::npos) << loaded.error().what();

  berth::testing::write_text(store.dir("web") / "state.json", "{not json");
  loaded = store.load("web");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().what().find("not a JSON object"), std::string::npos) << loaded.error().what();
}

TEST(StateStoreTest, RemoveDeletesTheWholeDirectory) {
  TempDir root;
  StateStore store(root.path());
  ASSERT_TRUE(store.create("web"));
  ASSERT_TRUE(store.save(sample("web")));
  ASSERT_TRUE(store.remove("web"));
  EXPECT_FALSE(std::filesystem::exists(store.dir("web")));
}

TEST(StateStoreTest, TheLockExcludesASecondHolder) {
  TempDir root;
  StateStore store(root.path());
  auto held = store.create("web");
  ASSERT_TRUE(held);
  int other = ::open((store.dir("web") / "lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(other, 0);
  EXPECT_EQ(::flock(other, LOCK_EX | LOCK_NB), -1);
  EXPECT_EQ(errno, EWOULDBLOCK);
  held->reset();
  EXPECT_EQ(::flock(other, LOCK_EX | LOCK_NB), 0);
  ::close(other);
}

TEST(StateJsonTest, FollowsTheRuntimeSpecStateDocument) {
  auto value = json::parse(state_json(sample("web"))).as_object();
  EXPECT_EQ(value.at("ociVersion").as_string(), "1.0.2");
  EXPECT_EQ(value.at("id").as_string(), "web");
  EXPECT_EQ(value.at("status").as_string(), "created");
  EXPECT_EQ(value.at("pid").as_int64(), 4242);
  EXPECT_EQ(value.at("bundle").as_string(), "/srv/bundles/web");
  EXPECT_EQ(value.at("annotations").at("org.example.team").as_string(), "infra");
}

TEST(StateJsonTest, AStoppedContainerHasNoPid) {
  auto state = sample("web");
  state.status = Status::stopped;
  auto value = json::parse(state_json(state)).as_object();
  EXPECT_EQ(value.at("status").as_string(), "stopped");
  EXPECT_FALSE(value.contains("pid"));
}

TEST(ParseSignalTest, AcceptsNamesWithAndWithoutSigAndNumbers) {
  EXPECT_EQ(parse_signal("TERM").value(), SIGTERM);
  EXPECT_EQ(parse_signal("SIGKILL").value(), SIGKILL);
  EXPECT_EQ(parse_signal("9").value(), 9);
  EXPECT_EQ(parse_signal("USR1").value(), SIGUSR1);
  for (std::string bad : {"", "0", "65", "SIGNOPE", "-1", "1x"}) {
    auto parsed = parse_signal(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_FALSE(parsed.error().what().empty());
  }
}

}  // namespace
}  // namespace berth::runtime
