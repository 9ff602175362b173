// StatsSampler against fixture cgroups (regular files read from offset 0, as
// it reads cgroupfs), with both backends: the same statistics, per-container
// errors, files kept open between samples.

#include "berth/isolators/cgroups2/stats_sampler.hpp"

#include <gtest/gtest.h>

#include "berth/isolators/cgroups2/controllers.hpp"
#include "isolators/cgroups2_fixtures.hpp"

namespace berth::isolators::cgroups2 {
namespace {

using testing::TempDir;
using testing::write_text;

const std::vector<std::string> kAll = {"cpu", "memory", "pids", "io"};

class StatsSamplerTest : public ::testing::TestWithParam<SamplerBackend> {
 protected:
  std::unique_ptr<StatsSampler> sampler(std::vector<std::string> enabled = kAll,
                                        PressureFiles pressure = PressureFiles::read) {
    auto created = StatsSampler::create({.enabled = std::move(enabled), .pressure = pressure, .backend = GetParam()});
    if (!created && GetParam() == SamplerBackend::io_uring) return nullptr;
    EXPECT_TRUE(created.has_value()) << created.error().what();
    return created ? std::move(*created) : nullptr;
  }
  std::filesystem::path cgroup(const std::string& name) {
    auto dir = temp_ / name;
    std::filesystem::create_directory(dir);
    testing::full_cgroup(dir);
    return dir;
  }
  TempDir temp_;
};

#define SAMPLER_OR_SKIP(var, ...)                                  \
  auto var = sampler(__VA_ARGS__);                                 \
  if (!var) GTEST_SKIP() << "io_uring is not available here";

TEST_P(StatsSamplerTest, ReportsItsBackendAndFiles) {
  SAMPLER_OR_SKIP(all);
  EXPECT_EQ(all->backend(), GetParam());
  // cpu.stat, cpu.pressure, memory.{current,peak,stat,events,pressure}, pids.{current,events}, io.{stat,pressure}
  EXPECT_EQ(all->files_per_container(), 11u);
  SAMPLER_OR_SKIP(core, {});
  EXPECT_EQ(core->files_per_container(), 4u);  // cpu.stat and the three pressure files
  SAMPLER_OR_SKIP(no_psi, {}, PressureFiles::skip);
  EXPECT_EQ(no_psi->files_per_container(), 1u);
}

TEST_P(StatsSamplerTest, SamplesEveryContainerAsReadCgroupStatisticsDoes) {
  SAMPLER_OR_SKIP(stats);
  auto c1 = cgroup("c1"), c2 = cgroup("c2");
  write_text(c2 / "memory.current", "123\n");
  ASSERT_TRUE(stats->add("c1", c1).has_value());
  ASSERT_TRUE(stats->add("c2", c2).has_value());
  auto samples = stats->sample();
  ASSERT_EQ(samples.size(), 2u);
  for (const auto& sample : samples) {
    ASSERT_TRUE(sample.status.has_value()) << sample.status.error().what();
    auto expected = read_cgroup_statistics(temp_ / sample.container_id, kAll).value();
    EXPECT_EQ(sample.statistics.cpu_usage_us, expected.cpu_usage_us);
    EXPECT_EQ(sample.statistics.cpu_periods, expected.cpu_periods);
    EXPECT_EQ(sample.statistics.memory_current, expected.memory_current);
    EXPECT_EQ(sample.statistics.memory_kernel, expected.memory_kernel);
    EXPECT_EQ(sample.statistics.memory_oom_kill, expected.memory_oom_kill);
    EXPECT_EQ(sample.statistics.pids_max_events, expected.pids_max_events);
    EXPECT_EQ(sample.statistics.io.at("254:0").read_bytes, expected.io.at("254:0").read_bytes);
    EXPECT_EQ(sample.statistics.memory_pressure->some_total_us, expected.memory_pressure->some_total_us);
  }
  EXPECT_EQ(samples[1].statistics.memory_current, 123u);
}

TEST_P(StatsSamplerTest, EachSampleRereadsTheOpenFilesFromTheStart) {
  SAMPLER_OR_SKIP(stats);
  auto c1 = cgroup("c1");
  ASSERT_TRUE(stats->add("c1", c1).has_value());
  EXPECT_EQ(stats->sample()[0].statistics.cpu_usage_us, 71883u);
  // In place, as the kernel regenerates it: the same open file, new content.
  write_text(c1 / "cpu.stat", "usage_usec 99999999\nuser_usec 1\nsystem_usec 2\n");
  auto again = stats->sample();
  EXPECT_EQ(again[0].statistics.cpu_usage_us, 99999999u);
  EXPECT_FALSE(again[0].statistics.cpu_periods.has_value()) << "fields of the last sample are not kept";
}

TEST_P(StatsSamplerTest, FilesLargerThanABufferAreReadWhole) {
  SAMPLER_OR_SKIP(stats);
  auto c1 = cgroup("c1");
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "padding_" + std::to_string(i) + " 0\n";
  write_text(c1 / "memory.stat", big + "anon 77\nfile 88\nkernel 99\n");
  ASSERT_TRUE(stats->add("c1", c1).has_value());
  auto sample = stats->sample()[0];
  ASSERT_TRUE(sample.status.has_value()) << sample.status.error().what();
  EXPECT_EQ(sample.statistics.memory_anon, 77u);
  EXPECT_EQ(sample.statistics.memory_kernel, 99u);
}

TEST_P(StatsSamplerTest, OneBadContainerDoesNotSpoilTheOthers) {
  SAMPLER_OR_SKIP(stats);
  auto bad = cgroup("bad"), good = cgroup("good");
  ASSERT_TRUE(stats->add("bad", bad).has_value());
  ASSERT_TRUE(stats->add("good", good).has_value());
  write_text(bad / "pids.current", "many\n");
  auto samples = stats->sample();
  ASSERT_FALSE(samples[0].status.has_value());
  EXPECT_EQ(samples[0].status.error().path(), (bad / "pids.current").string());
  EXPECT_TRUE(samples[1].status.has_value());
  write_text(bad / "pids.current", "2\n");
  EXPECT_TRUE(stats->sample()[0].status.has_value()) << "the next sample starts afresh";
}

TEST_P(StatsSamplerTest, MissingRequiredFileFailsAddAndKeepsNothing) {
  SAMPLER_OR_SKIP(stats);
  auto c1 = cgroup("c1");
  std::filesystem::remove(c1 / "memory.stat");
  auto added = stats->add("c1", c1);
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().path(), (c1 / "memory.stat").string());
  EXPECT_EQ(added.error().code(), ENOENT);
  EXPECT_EQ(stats->size(), 0u);
}

TEST_P(StatsSamplerTest, MissingOptionalFilesLeaveTheirFieldsEmpty) {
  SAMPLER_OR_SKIP(stats);
  auto c1 = cgroup("c1");
  std::filesystem::remove(c1 / "memory.peak");
  std::filesystem::remove(c1 / "io.pressure");
  ASSERT_TRUE(stats->add("c1", c1).has_value());
  auto sample = stats->sample()[0];
  ASSERT_TRUE(sample.status.has_value()) << sample.status.error().what();
  EXPECT_FALSE(sample.statistics.memory_peak.has_value());
  EXPECT_FALSE(sample.statistics.io_pressure.has_value());
  EXPECT_EQ(sample.statistics.memory_current, 4567040u);
}

TEST_P(StatsSamplerTest, RemoveKeepsTheOthers) {
  SAMPLER_OR_SKIP(stats);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(stats->add(id, cgroup(id)).has_value());
  write_text(temp_ / "c" / "memory.current", "3\n");
  stats->remove("a");
  stats->remove("unknown");
  EXPECT_EQ(stats->size(), 2u);
  std::map<std::string, std::optional<std::uint64_t>> current;
  for (const auto& sample : stats->sample()) current[sample.container_id] = sample.statistics.memory_current;
  EXPECT_EQ(current.size(), 2u);
  EXPECT_EQ(current["c"], 3u);
  EXPECT_EQ(current["b"], 4567040u);
}

TEST_P(StatsSamplerTest, CoreFilesOnlyWithoutControllers) {
  SAMPLER_OR_SKIP(stats, {});
  TempDir core;
  testing::core_cgroup(core.path());
  ASSERT_TRUE(stats->add("c", core.path()).has_value());
  auto sample = stats->sample()[0];
  ASSERT_TRUE(sample.status.has_value()) << sample.status.error().what();
  EXPECT_EQ(sample.statistics.cpu_usage_us, 1520u);
  EXPECT_FALSE(sample.statistics.memory_current.has_value());
  EXPECT_TRUE(sample.statistics.cpu_pressure.has_value());
}

TEST_P(StatsSamplerTest, UnknownControllerIsAnError) {
  auto created = StatsSampler::create({.enabled = {"blkio"}, .backend = GetParam()});
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().message(), "stats sampler: unknown cgroup controller \"blkio\"");
}

TEST_P(StatsSamplerTest, AChosenBackendIsKept) {
  SAMPLER_OR_SKIP(stats);
  for (int i = 0; i < 70; ++i) {
    const auto id = "c" + std::to_string(i);
    ASSERT_TRUE(stats->add(id, cgroup(id)).has_value());
  }
  for (int round = 0; round < 6; ++round) {
    (void)stats->sample();
    EXPECT_EQ(stats->backend(), GetParam());
  }
}

TEST(StatsSamplerAutomaticTest, TriesBothOnEnoughContainersThenKeepsOneAndSamplesStayRight) {
  TempDir temp;
  auto created = StatsSampler::create({.enabled = kAll});
  ASSERT_TRUE(created.has_value()) << created.error().what();
  auto& stats = **created;
  for (int i = 0; i < 64; ++i) {
    auto dir = temp / ("c" + std::to_string(i));
    std::filesystem::create_directory(dir);
    testing::full_cgroup(dir);
    write_text(dir / "memory.current", std::to_string(i) + "\n");
    ASSERT_TRUE(stats.add("c" + std::to_string(i), dir).has_value());
  }
  std::vector<SamplerBackend> used;
  for (int round = 0; round < 6; ++round) {
    used.push_back(stats.backend());
    auto samples = stats.sample();
    for (std::size_t i = 0; i < samples.size(); ++i) {
      ASSERT_TRUE(samples[i].status.has_value()) << samples[i].status.error().what();
      EXPECT_EQ(samples[i].statistics.memory_current, i) << "round " << round;
    }
  }
  if (!StatsSampler::create({.backend = SamplerBackend::io_uring})) {
    EXPECT_EQ(used, std::vector<SamplerBackend>(6, SamplerBackend::pread));
    return;
  }
  using enum SamplerBackend;
  EXPECT_EQ(std::vector<SamplerBackend>(used.begin(), used.begin() + 4),
            (std::vector{io_uring, pread, io_uring, pread}));
  EXPECT_EQ(used[4], used[5]) << "kept";
}

INSTANTIATE_TEST_SUITE_P(Backends, StatsSamplerTest, ::testing::Values(SamplerBackend::io_uring, SamplerBackend::pread),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace berth::isolators::cgroups2
