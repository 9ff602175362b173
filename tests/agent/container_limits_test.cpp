// From a task as a framework describes it to what its cgroup enforces:
// requests, limits above them (Mesos's TaskInfo.limits), the agent's policy
// flags, and the labels for what Mesos has no field for.

#include "berth/agent/container_limits.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace berth::agent {
namespace {

namespace v1 = mesos::v1;

v1::TaskInfo task(double cpus, double mem_mb) {
  v1::TaskInfo t;
  t.set_name("t");
  t.mutable_task_id()->set_value("t1");
  t.mutable_agent_id()->set_value("a1");
  for (auto [name, value] : {std::pair{"cpus", cpus}, std::pair{"mem", mem_mb}}) {
    auto* r = t.add_resources();
    r->set_name(name);
    r->set_type(v1::Value::SCALAR);
    r->mutable_scalar()->set_value(value);
  }
  return t;
}

void add_label(v1::TaskInfo& t, const std::string& key, const std::string& value) {
  auto* label = t.mutable_labels()->add_labels();
  label->set_key(key);
  label->set_value(value);
}

std::string error_of(const v1::TaskInfo& t, LimitsPolicy policy = {}) {
  auto limits = container_limits(t, policy);
  return limits ? "ok" : limits.error().what();
}

TEST(ContainerLimitsTest, RequestsWithoutLimitsAreTheLimits) {
  auto limits = container_limits(task(0.5, 64), {}).value();
  EXPECT_DOUBLE_EQ(limits.cpus, 0.5);
  EXPECT_FALSE(limits.cpus_limit);
  EXPECT_TRUE(limits.cpu_quota_from_request);
  EXPECT_EQ(limits.cpu_period_us, 100'000u);
  EXPECT_EQ(limits.mem_bytes, 64u << 20);
  EXPECT_FALSE(limits.mem_limit);
  EXPECT_FALSE(limits.swap_max_bytes);
  EXPECT_FALSE(limits.pids_max);
}

TEST(ContainerLimitsTest, LimitsAboveRequestsAndInfinity) {
  auto t = task(0.5, 64);
  (*t.mutable_limits())["cpus"].set_value(2);
  (*t.mutable_limits())["mem"].set_value(std::numeric_limits<double>::infinity());
  auto limits = container_limits(t, {}).value();
  EXPECT_EQ(limits.cpus_limit, 2.0);
  EXPECT_EQ(limits.mem_limit, std::numeric_limits<std::uint64_t>::max());
  (*t.mutable_limits())["cpus"].set_value(std::numeric_limits<double>::infinity());
  (*t.mutable_limits())["mem"].set_value(128);
  limits = container_limits(t, {}).value();
  EXPECT_TRUE(std::isinf(*limits.cpus_limit));
  EXPECT_EQ(limits.mem_limit, 128u << 20);
}

TEST(ContainerLimitsTest, ALimitBelowItsRequestOrOfAnotherResourceIsRefused) {
  auto t = task(1, 128);
  (*t.mutable_limits())["mem"].set_value(64);
  EXPECT_EQ(error_of(t), "limits[\"mem\"]: 64 MB is below the 128 MB requested");
  t.mutable_limits()->clear();
  (*t.mutable_limits())["cpus"].set_value(0);
  EXPECT_EQ(error_of(t), "limits[\"cpus\"]: 0 is not a positive amount");
  t.mutable_limits()->clear();
  (*t.mutable_limits())["disk"].set_value(10);
  EXPECT_EQ(error_of(t), "limits[\"disk\"]: only cpus and mem can have limits");
}

TEST(ContainerLimitsTest, ThePolicyFlagsShapeEveryContainer) {
  LimitsPolicy policy{.cpu_quota_from_request = false, .cpu_period_us = 50'000, .no_swap = true, .pids_max = 512};
  auto limits = container_limits(task(1, 32), policy).value();
  EXPECT_FALSE(limits.cpu_quota_from_request);
  EXPECT_EQ(limits.cpu_period_us, 50'000u);
  EXPECT_EQ(limits.swap_max_bytes, 0u);
  EXPECT_EQ(limits.pids_max, 512u);
}

TEST(ContainerLimitsTest, LabelsSetPidsCpusetAndIo) {
  auto t = task(1, 32);
  add_label(t, "berth.pids_max", "64");
  add_label(t, "berth.cpuset.cpus", "0-1,3");
  add_label(t, "berth.cpuset.mems", "0");
  add_label(t, "berth.io.max", "8:0 rbps=1048576 wbps=2097152;253:1 wiops=100");
  auto limits = container_limits(t, {.pids_max = 512}).value();
  EXPECT_EQ(limits.pids_max, 64u);  // the task's own beats the agent's default
  EXPECT_EQ(limits.cpuset_cpus, "0-1,3");
  EXPECT_EQ(limits.cpuset_mems, "0");
  ASSERT_EQ(limits.io.size(), 2u);
  EXPECT_EQ(limits.io["8:0"].read_bps, 1048576u);
  EXPECT_EQ(limits.io["8:0"].write_bps, 2097152u);
  EXPECT_FALSE(limits.io["8:0"].read_iops);
  EXPECT_EQ(limits.io["253:1"].write_iops, 100u);
}

TEST(ContainerLimitsTest, BadLabelsAreRefusedNamingTheLabel) {
  auto with = [](const std::string& key, const std::string& value) {
    auto t = task(1, 32);
    add_label(t, key, value);
    return error_of(t);
  };
  EXPECT_EQ(with("berth.pids_max", "-1"), "labels[\"berth.pids_max\"]: '-1' is not a non-negative integer");
  EXPECT_EQ(with("berth.cpuset.cpus", "0-"), "labels[\"berth.cpuset.cpus\"]: '0-' is not a list like 0-3,6");
  EXPECT_EQ(with("berth.io.max", "sda rbps=1"),
            "labels[\"berth.io.max\"]: 'sda rbps=1' does not start with a device MAJ:MIN");
  EXPECT_EQ(with("berth.io.max", "8:0 rbps=fast"), "labels[\"berth.io.max\"]: 'fast' is not a non-negative integer");
  EXPECT_EQ(with("berth.io.max", "8:0 speed=1"),
            "labels[\"berth.io.max\"]: unknown key 'speed' (rbps, wbps, riops or wiops)");
}

}  // namespace
}  // namespace berth::agent

namespace berth::agent {
namespace {

TEST(UpdatedLimitsTest, PatchesOnlyWhatItNames) {
  auto current = container_limits(task(1, 64), {}).value();
  auto updated = updated_limits(current, R"({"mem_limit": 128, "pids_max": 50, "cpus_limit": "infinity"})");
  ASSERT_TRUE(updated) << updated.error().what();
  EXPECT_DOUBLE_EQ(updated->cpus, 1);
  EXPECT_EQ(updated->mem_bytes, 64u << 20);
  EXPECT_EQ(updated->mem_limit, 128u << 20);
  EXPECT_EQ(updated->pids_max, 50u);
  EXPECT_TRUE(std::isinf(*updated->cpus_limit));
}

TEST(UpdatedLimitsTest, BadUpdatesNameTheField) {
  auto current = container_limits(task(1, 64), {}).value();
  auto error = [&](std::string_view json) {
    auto updated = updated_limits(current, json);
    return updated ? std::string("ok") : updated.error().what();
  };
  EXPECT_EQ(error(R"({"mem_limit": 32})"), "mem_limit: 33554432 bytes is below the 67108864 bytes requested");
  EXPECT_EQ(error(R"({"cpus": -1})"), "cpus: expected a positive number or \"infinity\"");
  EXPECT_EQ(error(R"({"cpus": "infinity"})"), "cpus: a request cannot be infinite");
  EXPECT_EQ(error(R"({"disk": 1})"),
            "disk: not a limit that can be updated (cpus, cpus_limit, mem, mem_limit, pids_max)");
  EXPECT_EQ(error(R"({"pids_max": 0})"), "pids_max: expected a positive integer");
  EXPECT_EQ(error("[1]"), "expected a JSON object of limits: not an object");
}

}  // namespace
}  // namespace berth::agent
