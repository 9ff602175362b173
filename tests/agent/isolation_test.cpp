// --isolation, Mesos-style, as the cgroup controllers the isolator needs.

#include "berth/agent/isolation.hpp"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

TEST(IsolationTest, MesosNamesMapToControllers) {
  EXPECT_EQ(cgroup_controllers_for("cgroups/cpu,cgroups/mem,cgroups/pids,cgroups/io,cgroups/devices").value(),
            (std::vector<std::string>{"cpu", "memory", "pids", "io", "devices"}));
  EXPECT_EQ(cgroup_controllers_for("cgroups/blkio,cgroups/io,cgroups/cpuset,cgroups/hugetlb").value(),
            (std::vector<std::string>{"io", "cpuset", "hugetlb"}));
  EXPECT_EQ(cgroup_controllers_for("").value(), std::vector<std::string>{});
}

TEST(IsolationTest, AnUnknownIsolatorIsNamed) {
  auto parsed = cgroup_controllers_for("cgroups/cpu,posix/mem");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().what(),
            "--isolation: unknown isolator 'posix/mem' (known: cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/io, "
            "cgroups/blkio, cgroups/cpuset, cgroups/hugetlb, cgroups/devices, network/bridge)");
}

}  // namespace
}  // namespace berth::agent
