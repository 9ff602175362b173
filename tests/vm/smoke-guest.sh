#!/bin/sh
# Runs inside the test VM (busybox sh, started by smoke_test through run-in-vm
# with --disk and crun copied in). Checks that the guest is the machine the
# real-kernel tests rely on: a full cgroup v2 whose controllers take limits and
# enforce them, a block device for io.max, and crun running a container.
# Prints one line per check; exits 1 if any failed.
set -u

failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: ok if the command succeeds, FAIL otherwise.
check() {
  desc=$1
  shift
  if "$@"; then ok "$desc"; else fail "$desc"; fi
}

cg=/sys/fs/cgroup

# --- cgroup v2 with every controller ----------------------------------------------

check "cgroup2 mounted at $cg" grep -q "^cgroup2 $cg cgroup2 " /proc/mounts
check "no cgroup v1 hierarchy mounted" sh -c "! grep -q '^[^ ]* [^ ]* cgroup ' /proc/mounts"

echo "     cgroup.controllers: $(cat $cg/cgroup.controllers)"
echo "     root cgroup.subtree_control: $(cat $cg/cgroup.subtree_control)"
for c in cpu memory io pids cpuset hugetlb; do
  check "controller $c available" grep -qw "$c" $cg/cgroup.controllers
  check "controller $c enabled for children" grep -qw "$c" $cg/cgroup.subtree_control
done

# --- limits in a child cgroup -------------------------------------------------------

child=$cg/smoke
mkdir $child || fail "mkdir $child"

# write_and_read FILE VALUE EXPECTED: the kernel may normalize what it stores.
write_and_read() {
  if echo "$2" >"$child/$1" 2>/dev/null && [ "$(cat "$child/$1")" = "$3" ]; then
    ok "$1 = $3"
  else
    fail "$1: wrote '$2', read '$(cat "$child/$1" 2>&1)'"
  fi
}
write_and_read memory.max 64M 67108864
write_and_read pids.max 16 16
write_and_read cpu.max "50000 100000" "50000 100000"
write_and_read cpu.weight 50 50
write_and_read cpuset.cpus 0 0

disk=$(cat /sys/block/vda/dev 2>/dev/null)
if [ -b /dev/vda ] && [ -n "$disk" ]; then
  write_and_read io.max "$disk rbps=1048576" "$disk rbps=1048576 wbps=max riops=max wiops=max"
else
  fail "no /dev/vda for io.max"
fi

# pids.max is enforced: with room for 3 processes, the 4th fork fails.
echo 3 >$child/pids.max
sh -c "echo \$\$ >$child/cgroup.procs; sleep 60 & sleep 60 & sleep 60 &" >/dev/null 2>&1
if grep -q '^max [1-9]' $child/pids.events; then
  ok "pids.max enforced (pids.events: $(cat $child/pids.events))"
else
  fail "pids.max=3 let 4 processes start (pids.events: $(cat $child/pids.events))"
fi

# memory.max is enforced: tmpfs pages count against the writer's cgroup, and
# 32 MiB do not fit under 8 MiB (there is no swap to push them to).
mem=$cg/smoke-mem
mkdir $mem
echo 8M >$mem/memory.max
sh -c "echo \$\$ >$mem/cgroup.procs; exec dd if=/dev/zero of=/tmp/smoke-fill bs=1M count=32" >/dev/null 2>&1
size=$(wc -c </tmp/smoke-fill 2>/dev/null || echo 0)
rm -f /tmp/smoke-fill
if [ "$size" -lt $((32 * 1024 * 1024)) ] && ! grep -q '^max 0$' $mem/memory.events; then
  ok "memory.max enforced (wrote $size bytes; $(grep -E '^(max|oom_kill) ' $mem/memory.events | tr '\n' ' '))"
else
  fail "memory.max=8M let 32 MiB be written ($(tr '\n' ' ' <$mem/memory.events))"
fi

# Clean up so the kernel can free the cgroups (sleepers may still be there).
for d in $child $mem; do
  echo 1 >"$d/cgroup.kill" 2>/dev/null
  n=0
  while ! rmdir "$d" 2>/dev/null && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
  if [ -d "$d" ]; then fail "cannot remove $d"; fi
done

# --- crun runs containers ---------------------------------------------------------------

if v=$(crun --version 2>&1); then
  ok "crun runs: $(echo "$v" | head -n 1)"
else
  fail "crun --version: $v"
fi

bundle=/tmp/bundle
mkdir -p $bundle/rootfs/bin
cp /usr/bin/busybox $bundle/rootfs/bin/busybox
ln -s busybox $bundle/rootfs/bin/true
ln -s busybox $bundle/rootfs/bin/sh
(cd $bundle && crun spec) || fail "crun spec"

# crun spec writes a shell on a terminal; the VM has no terminal, and the args
# are set per run on the one line that holds them.
# config ARG...: writes config.json with process.args = ARG...
config() {
  args=
  for a in "$@"; do args="$args${args:+, }\"$a\""; done
  sed -e 's/"terminal": true/"terminal": false/' -e "s|^\\([[:space:]]*\\)\"sh\"\$|\\1$args|" \
    $bundle/config.json.orig >$bundle/config.json
  grep -q '"terminal": false' $bundle/config.json && grep -qF "$args" $bundle/config.json
}
mv $bundle/config.json $bundle/config.json.orig

# run_container ID STATUS OUTPUT ARG...: runs the bundle with process.args
# ARG... and checks its exit status and output.
run_container() {
  id=$1 want=$2 want_out=$3
  shift 3
  if ! config "$@"; then
    fail "could not write config.json for $*"
    return
  fi
  start=$(cut -d' ' -f1 /proc/uptime)
  out=$(crun run --bundle $bundle "$id" </dev/null 2>&1)
  rc=$?
  end=$(cut -d' ' -f1 /proc/uptime)
  if [ "$rc" = "$want" ] && [ "$out" = "$want_out" ]; then
    ok "crun run $* exited $rc (in $(echo "$start $end" | awk '{ printf "%.2f", $2 - $1 }') s)${out:+: $out}"
  else
    fail "crun run $*: exit $rc, output '$out'; expected exit $want, output '$want_out'"
  fi
}
run_container smoke-true 0 "" /bin/true
# A status and an output only the container's own process can produce: it is
# pid 1 of its own pid namespace.
run_container smoke-exit 7 "" /bin/sh -c "exit 7"
run_container smoke-echo 0 "in-container pid 1" /bin/sh -c "echo in-container pid \$\$"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
