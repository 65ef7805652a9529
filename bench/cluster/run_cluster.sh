#!/usr/bin/env bash
# A cluster against one node, in one run (issue 15, item 8): lock ops/s and
# batond CPU through the C++ client (3 nodes routed directly vs one lone
# batond, same client shapes), Admin.Describe forwarded vs direct, and the
# failover time from a SIGKILL to the first grant by the new owner. Prints
# one Markdown report: date, commit, load average, command, then
# baton_cluster_bench's tables.
#
#   bench/cluster/run_cluster.sh [--smoke] [OUTPUT_FILE]     (default: stdout)
#
# It builds Release in build-bench/ (BATON_BENCH_BUILD overrides; with
# BATON_BENCH_PREBUILT=1 it uses the binaries there as they are), starts
# etcd (/usr/bin/etcd, a temporary data dir, free loopback ports), three
# batond nodes on it (--shards=2 --cluster_lease_ttl=2s) and one lone
# batond (--shards=2), runs bench/cluster/cluster_bench.cc, and stops what
# it started. A full run takes about 60 s once built (two shapes, 5 s
# windows, each against the lone batond and the cluster); --smoke runs
# 1 s windows at 2x4 (about 15 s). Exit status 1 when the run failed.
#
# The machine's cores are shared by the nodes, etcd and the client: read
# the ratios of one run, not the absolute figures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BATON_BENCH_BUILD:-$root/build-bench}
smoke=0
output=""
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_cluster.sh: unknown flag $arg" >&2; exit 2 ;;
    *) output=$arg ;;
  esac
done
command_line="bench/cluster/run_cluster.sh $*"
if (( smoke )); then
  bench_flags=(--shapes=2x4 --duration=1s --warmup=0.3s --describes=100)
else
  bench_flags=(--shapes=4x16,1x1 --duration=5s --warmup=1s --describes=1000)
fi

# shellcheck source=bench/common/build.sh
source "$root/bench/common/build.sh"
bench_build run_cluster "$build" "$root" batond baton_cluster_bench
bench=$build/bench/cluster/baton_cluster_bench
batond=$build/server/batond/batond

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=bench/common/etcd.sh
source "$root/bench/common/etcd.sh"
start_etcd "$tmp/etcd" || { kill "$etcd_pid" 2>/dev/null; exit 1; }
pids+=("$etcd_pid")

# start_batond NAME [FLAG...]: sets the variables NAME_pid and NAME_addr.
start_batond() {
  local name=$1
  shift
  "$batond" --listen=127.0.0.1:0 --shards=2 --data_dir="$tmp/$name-data" --grace=0s "$@" \
    2>"$tmp/$name.log" &
  local pid=$!
  pids+=("$pid")
  local addr="" i
  for (( i = 0; i < 100; i++ )); do  # 10 s
    addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/$name.log" | head -n1 || true)
    [[ -n $addr ]] && break
    sleep 0.1
  done
  if [[ -z $addr ]]; then
    echo "run_cluster.sh: batond $name did not start:" >&2
    cat "$tmp/$name.log" >&2
    exit 1
  fi
  printf -v "${name}_pid" '%s' "$pid"
  printf -v "${name}_addr" '%s' "$addr"
}

start_batond lone
node_pids=""
for id in a b c; do
  start_batond "$id" --cluster_etcd="127.0.0.1:$etcd_port" --cluster_node_id="$id" \
    --cluster_name=bench --cluster_lease_ttl=2s
  pid_var=${id}_pid
  node_pids+="$id:${!pid_var},"
done
# Every node sees the three members before the run.
for (( i = 0; i < 100; i++ )); do  # 10 s
  "$build/client/cli/baton" --addr "$a_addr" cluster --json 2>/dev/null |
    grep -o '"node_id":"[abc]","address"' | wc -l | grep -q '^3$' && break
  sleep 0.1
done

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run_cluster.sh: lone batond $lone_addr, nodes $a_addr $b_addr $c_addr" >&2
status=0
timeout --kill-after=10s 180s "$bench" --lone="$lone_addr" --lone_pid="$lone_pid" \
  --cluster="$a_addr" --node_pids="${node_pids%,}" "${bench_flags[@]}" >"$tmp/table.md" ||
  status=$?
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)

report() {
  echo "## A cluster against one node: routed lock ops, forwarded Admin calls, failover" \
       "($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD))"
  echo
  echo "\`$command_line\`: etcd $(/usr/bin/etcd --version 2>/dev/null | sed -n 's/etcd Version: //p'),"
  echo "three batond nodes (\`--shards=2 --cluster_lease_ttl=2s\`) and a lone batond"
  echo "(\`--shards=2\`) on loopback, $(nproc) cores shared by all of them and the client;"
  echo "load average $load_at_start at the start, $load_at_end at the end."
  echo
  cat "$tmp/table.md"
}
if [[ -n $output ]]; then report >"$output"; else report; fi
exit "$status"
