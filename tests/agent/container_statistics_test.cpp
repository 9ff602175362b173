// A container's statistics as /containers (Mesos's names) and /metrics
// (Prometheus, base units) serve them.

#include "berth/agent/container_statistics.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <limits>

namespace berth::agent {
namespace {

namespace json = boost::json;
using isolators::cgroups2::Limits;
using isolators::cgroups2::Statistics;

Statistics sample() {
  Statistics s;
  s.cpu_usage_us = 2'500'000;
  s.cpu_user_us = 2'000'000;
  s.cpu_system_us = 500'000;
  s.cpu_periods = 40;
  s.cpu_throttled_periods = 10;
  s.cpu_throttled_us = 250'000;
  s.memory_current = 1 << 20;
  s.memory_peak = 2 << 20;
  s.memory_anon = 3 << 10;
  s.memory_file = 4 << 10;
  s.memory_kernel = 5 << 10;
  s.memory_oom = 2;
  s.memory_oom_kill = 1;
  s.pids_current = 7;
  s.io["8:0"] = {.read_bytes = 100, .write_bytes = 200, .read_ios = 3, .write_ios = 4};
  s.cpu_pressure = isolators::cgroups2::PressureStall{.some_avg10 = 1.5, .some_total_us = 3'000'000};
  return s;
}

TEST(ContainerStatisticsTest, JsonUsesMesosNamesAndBaseUnits) {
  Limits limits;
  limits.cpus = 0.5;
  limits.mem_bytes = 64 << 20;
  auto out = statistics_json(sample(), limits, 1234.5);
  EXPECT_EQ(out["timestamp"].as_double(), 1234.5);
  EXPECT_EQ(out["cpus_user_time_secs"].as_double(), 2.0);
  EXPECT_EQ(out["cpus_system_time_secs"].as_double(), 0.5);
  EXPECT_EQ(out["cpus_limit"].as_double(), 0.5);  // the request, under CFS quotas from requests
  EXPECT_EQ(out["cpus_nr_periods"].as_uint64(), 40u);
  EXPECT_EQ(out["cpus_nr_throttled"].as_uint64(), 10u);
  EXPECT_EQ(out["cpus_throttled_time_secs"].as_double(), 0.25);
  EXPECT_EQ(out["mem_limit_bytes"].as_uint64(), 64u << 20);
  EXPECT_EQ(out["mem_total_bytes"].as_uint64(), 1u << 20);
  EXPECT_EQ(out["mem_max_bytes"].as_uint64(), 2u << 20);
  EXPECT_EQ(out["mem_oom_kill_events"].as_uint64(), 1u);
  EXPECT_EQ(out["processes"].as_uint64(), 7u);
  EXPECT_EQ(out["io_statistics"].as_array()[0].as_object().at("device").as_string(), "8:0");
  EXPECT_EQ(out["io_statistics"].as_array()[0].as_object().at("write_bytes").as_uint64(), 200u);
  EXPECT_EQ(out["cpu_pressure"].as_object().at("some_total_secs").as_double(), 3.0);
  EXPECT_FALSE(out.contains("io_pressure"));
}

TEST(ContainerStatisticsTest, JsonLeavesOutWhatTheCgroupDoesNotHave) {
  Statistics bare;  // a hybrid host: cpu.stat only
  bare.cpu_usage_us = 1'000'000;
  Limits unlimited;
  unlimited.cpus = 1;
  unlimited.cpus_limit = std::numeric_limits<double>::infinity();
  unlimited.mem_bytes = 1 << 20;
  unlimited.mem_limit = std::numeric_limits<std::uint64_t>::max();
  auto out = statistics_json(bare, unlimited, 0);
  for (const char* absent : {"cpus_limit", "cpus_nr_periods", "mem_limit_bytes", "mem_total_bytes", "processes",
                             "io_statistics", "cpu_pressure"}) {
    EXPECT_FALSE(out.contains(absent)) << absent;
  }
  EXPECT_EQ(out["cpus_usage_time_secs"].as_double(), 1.0);
}

TEST(ContainerStatisticsTest, MetricsInBaseUnitsWithTheContainersLabels) {
  metrics::Registry registry;
  describe_container_metrics(registry);
  metrics::Labels labels{{"container_id", "c1"}, {"framework_id", "f1"}, {"task_id", "t1"}};
  add_container_metrics(registry, labels, sample());
  auto text = registry.render();
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("# TYPE berth_container_cpu_usage_seconds_total counter")) << text;
  EXPECT_TRUE(has("berth_container_cpu_usage_seconds_total{container_id=\"c1\",framework_id=\"f1\",task_id=\"t1\"} 2.5"))
      << text;
  EXPECT_TRUE(has("berth_container_memory_usage_bytes{container_id=\"c1\",framework_id=\"f1\",task_id=\"t1\"} 1048576"))
      << text;
  EXPECT_TRUE(has("berth_container_io_written_bytes_total{container_id=\"c1\",framework_id=\"f1\",task_id=\"t1\","
                  "device=\"8:0\"} 200"))
      << text;
  EXPECT_TRUE(has("berth_container_pressure_stalled_seconds_total{container_id=\"c1\",framework_id=\"f1\","
                  "task_id=\"t1\",resource=\"cpu\",kind=\"some\"} 3"))
      << text;
}

}  // namespace
}  // namespace berth::agent
