#!/usr/bin/env bash
# Kept state: count_down/s with the store (--durable, the
# default) against without it (--durable=false), at 4 sessions x 16 in
# flight, and batond's start time with N kept instances.
#
#   bench/durable/run.sh [BUILD_DIR] [N]     # defaults: build, 1000000
#
# Prints a markdown table. The data directories go under ${TMPDIR:-/tmp}.
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
batond=$build/server/batond/batond
loadgen=$build/bench/loadgen/baton_loadgen
fill=$build/bench/durable/baton_fill_store
work=$(mktemp -d "${TMPDIR:-/tmp}/baton-durable.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# start DATA_DIR FLAGS...: starts batond, waits for "listening on", sets
# pid, addr and took (seconds from exec to listening).
start() {
  local dir=$1; shift
  local log=$work/batond.log
  local t0; t0=$(date +%s.%N)
  "$batond" --listen=127.0.0.1:0 --shards=2 --data_dir="$dir" "$@" 2>"$log" &
  pid=$!
  until grep -q "listening on" "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.01
  done
  took=$(echo "$(date +%s.%N) - $t0" | bc)
  addr=$(grep -o "listening on [0-9.]*:[0-9]*" "$log" | head -1 | awk '{print $3}')
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }

echo "| what | durable | figure |"
echo "| --- | --- | --- |"
# The target's shape (4 x 16), then more in flight: with the store, a
# count_down's answer waits for an fsync, so throughput is about
# in-flight / fsync time, and more in flight means more per group commit.
for in_flight in 16 256; do
  for durable in false true; do
    start "$work/cd-$durable-$in_flight" --durable=$durable --grace=0s
    row=$("$loadgen" --scenario=count_down --target_addr="$addr" --sessions=4 \
          --in_flight=$in_flight --duration=5s --server_pid="$pid" 2>/dev/null | tail -1)
    ops=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
    p99=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$8); print $8}')
    echo "| count_down/s, 4 sessions x $in_flight in flight (p99 µs) | $durable | $ops ($p99) |"
    stop
  done
done

"$fill" "$work/start" "$n" >&2
start "$work/start" --grace=0s
echo "| batond start, exec to listening, $n kept instances | true | ${took} s |"
grep -o 'kept state loaded.*' "$work/batond.log" | sed 's/^/<!-- /; s/$/ -->/' >&2
stop
