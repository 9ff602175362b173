#!/bin/sh
# Runs inside the test VM (started by enforcement_test through run-in-vm):
# the isolators' root tests, where every controller is there, then the
# enforcement suite; then checks that no cgroup of theirs is left. Exits 1 if
# anything failed.
set -u
export CI=true BERTH_FULL_CGROUP2=1
failures=0

echo "== isolators_root_tests (full cgroup v2)"
# The network isolator needs veth, bridge, nf_tables and sch_tbf, modules of
# Debian's kernel that the guest's initramfs does not carry; its tests run on
# the host, in network namespaces of their own.
/vm/isolators_root_tests --gtest_brief=1 --gtest_filter=-NetworkIsolatorTest.* || failures=$((failures + 1))

echo "== vm_enforcement_tests"
/vm/vm_enforcement_tests || failures=$((failures + 1))

left=$(ls /sys/fs/cgroup | grep '^berth' || true)
if [ -n "$left" ]; then
  echo "FAIL cgroups left under /sys/fs/cgroup: $left"
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures part(s) failed"
  exit 1
fi
echo "all enforcement tests passed"
