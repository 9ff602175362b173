#!/usr/bin/env bash
# Runs scheduler_client.py against a real berth-master and berth-agent on
# loopback, started with the flags the C++ end-to-end tests use
# (tests/support/cluster.cpp), then stops them and removes everything they made.
#
#   run_against_cluster.sh [BUILD_DIR]      (default /work/main/build; run as root)
#
# Exits with the client's status, or 1 if something could not be cleaned up.

# shellcheck disable=SC2317  # functions run from the EXIT trap and wait_for look unreachable
set -euo pipefail

BUILD_DIR=${1:-/work/main/build}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MASTER_BIN=$BUILD_DIR/bin/berth-master
AGENT_BIN=$BUILD_DIR/bin/berth-agent

if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=$(command -v python3); fi

die() { echo "run_against_cluster: $*" >&2; exit 2; }

if [[ $EUID -ne 0 ]]; then
  # ctest reports 77 as skipped; under CI a skipped root test is a failure.
  [[ ${CI:-} == true ]] && die "must run as root (the agent needs namespaces and cgroups)"
  echo "run_against_cluster: SKIPPED: not root (the agent needs namespaces and cgroups)" >&2
  exit 77
fi
for bin in "$MASTER_BIN" "$AGENT_BIN"; do [[ -x $bin ]] || die "$bin is missing"; done

# The agent's containers need cgroup v2: the unified mount on a hybrid host.
if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then CGROUP2=/sys/fs/cgroup; else CGROUP2=/sys/fs/cgroup/unified; fi
[[ -e $CGROUP2/cgroup.controllers ]] || die "no cgroup2 mount at $CGROUP2"

WORK=$(mktemp -d /tmp/berth-pyclient.XXXXXX)
CGROUPS_ROOT=$CGROUP2/$(basename "$WORK")
MASTER_PID=
AGENT_PID=
LEAKED=0

# A free port below the kernel's ephemeral range: one found with bind(0)
# may be handed to another process before the daemon binds it.
free_port() {
  "$PYTHON" -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(1000):
    port = random.randrange(10000, low)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
'
}

# GET http://127.0.0.1:PORT/PATH: prints the body and succeeds if the answer is 200 OK.
http_get() {
  "$PYTHON" -c '
import http.client, sys
connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
connection.request("GET", sys.argv[2])
response = connection.getresponse()
sys.stdout.write(response.read().decode())
sys.exit(response.status != 200)
' "$1" "$2" 2>/dev/null
}

master_healthy() { http_get "$MASTER_PORT" /health >/dev/null; }

agent_registered() {
  local count
  count=$(http_get "$MASTER_PORT" /state | "$PYTHON" -c \
    'import json, sys; print(json.load(sys.stdin).get("activated_slaves", 0))' 2>/dev/null)
  [[ $count == 1 ]]
}

# Polls a command until it succeeds, for up to $1 seconds.
wait_for() {
  local seconds=$1; shift
  local end=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

stop() {  # stop PID: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Processes whose working directory or command line lies in $WORK: the
# daemons and anything a container left behind (containers outlive the agent).
processes_in_work() {
  local proc pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if [[ $(readlink "$proc/cwd" 2>/dev/null) == "$WORK"* ]] ||
       { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -qF "$WORK"; then
      echo "$pid"
    fi
  done
}

# Kills every process in a cgroup and its descendants, then removes them, deepest first.
remove_cgroup_tree() {
  local dir=$1 child pid
  [[ -d $dir ]] || return 0
  for child in "$dir"/*/; do [[ -d $child ]] && remove_cgroup_tree "${child%/}"; done
  for _ in $(seq 50); do
    if [[ -e $dir/cgroup.kill ]]; then echo 1 >"$dir/cgroup.kill" 2>/dev/null || true
    else
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$dir/cgroup.procs"
    fi
    rmdir "$dir" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run_against_cluster: could not remove cgroup $dir" >&2
  LEAKED=1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  stop "$AGENT_PID"
  stop "$MASTER_PID"
  for pid in $(processes_in_work); do kill -KILL "$pid" 2>/dev/null || true; done
  remove_cgroup_tree "$CGROUPS_ROOT"
  # Nothing may stay mounted under the work directory before it is removed.
  if grep -qF " $WORK" /proc/self/mountinfo; then
    echo "run_against_cluster: mounts left under $WORK:" >&2
    grep -F " $WORK" /proc/self/mountinfo >&2
    LEAKED=1
  else
    rm -rf "$WORK"
  fi
  local left
  left=$(processes_in_work)
  if [[ -n $left ]]; then echo "run_against_cluster: processes left: $left" >&2; LEAKED=1; fi
  if ((LEAKED && status == 0)); then status=1; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

MASTER_PORT=$(free_port)
AGENT_PORT=$(free_port)
while [[ $AGENT_PORT == "$MASTER_PORT" ]]; do AGENT_PORT=$(free_port); done
mkdir "$CGROUPS_ROOT"

echo "master 127.0.0.1:$MASTER_PORT, agent 127.0.0.1:$AGENT_PORT, work dir $WORK, cgroups $CGROUPS_ROOT"

"$MASTER_BIN" --port="$MASTER_PORT" --work_dir="$WORK/master" \
  --allocation_interval=0.1 --heartbeat_interval=1 >"$WORK/master.log" 2>&1 &
MASTER_PID=$!
if ! wait_for 10 master_healthy; then
  echo "the master did not come up; its log:" >&2; cat "$WORK/master.log" >&2; exit 1
fi

"$AGENT_BIN" --master="127.0.0.1:$MASTER_PORT" --port="$AGENT_PORT" --work_dir="$WORK/agent" \
  --cgroups_root="$CGROUPS_ROOT" "--resources=cpus:2;mem:2048" \
  --registration_backoff_factor=0.1 --status_update_retry_interval=1 --kill_grace_period=2 \
  --allow_missing_cgroup_controllers >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
if ! wait_for 30 agent_registered; then
  echo "the agent did not register; its log:" >&2; cat "$WORK/agent.log" >&2; exit 1
fi
echo "agent registered"

set +e
"$PYTHON" "$HERE/scheduler_client.py" --master "127.0.0.1:$MASTER_PORT" --timeout 60
CLIENT_STATUS=$?
set -e
if ((CLIENT_STATUS != 0)); then
  echo "--- master log (last 40 lines)"; tail -n 40 "$WORK/master.log"
  echo "--- agent log (last 40 lines)"; tail -n 40 "$WORK/agent.log"
fi
exit "$CLIENT_STATUS"
