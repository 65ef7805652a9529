#!/usr/bin/env bash
# Instructions per request of the Session stream's server, counted by
# callgrind: exact whatever the machine's load. bench/RESULTS.md's issue 16
# figures (round two) come from it.
#
#   bench/loadgen/callgrind_per_request.sh SERVER BINARY SCENARIO SESSIONS IN_FLIGHT
#     SERVER    batond | echo_cb  (echo_cb: baton_echo_server --api=callback,
#               SCENARIO echo)
#     SCENARIO  baton_loadgen's: lock, semaphore, rate_stream, echo, ...
#
#   bench/loadgen/callgrind_per_request.sh batond build/server/batond/batond lock 4 16
#   -> "batond lock 4x16: 37824 requests, 181702528 instructions, 4803 per request"
#
# The server runs under valgrind --tool=callgrind with collection off
# (batond --shards=${CG_SHARDS:-2} --data_dir=<tmp>). baton_loadgen first declares what
# the scenario needs, then runs SESSIONS x IN_FLIGHT for 4 s of warm-up and
# CG_SECONDS (default 10) more; collection is on for CG_SECONDS from the end
# of the warm-up. The total is divided by the requests the server handled
# inside that window, counted by callgrind itself (batond: calls of
# SessionState::Check; echo: Requests parsed), not by the load generator:
# callgrind_control acts late on a busy machine, so the load generator's
# window is not quite the same one. Every thread of the server is counted.
# Set CG_KEEP=DIR to keep the dump (callgrind_annotate reads it),
# CG_SHARDS for batond's --shards, CG_BATOND_FLAGS for more of its flags
# and CG_SETTLE for seconds to wait after it listens (a cluster node under
# valgrind did not admit names within 6 s here: not a way to measure one
# yet);
# baton_loadgen is $BATON_BUILD_DIR/bench/loadgen/baton_loadgen (default
# build/).
set -euo pipefail
(($# == 5)) || { sed -n '6,10p' "$0" >&2; exit 2; }
kind=$1 bin=$2 scenario=$3 sessions=$4 inflight=$5
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BATON_BUILD_DIR:-build}
[[ $build = /* ]] || build=$root/$build
loadgen=$build/bench/loadgen/baton_loadgen
seconds=${CG_SECONDS:-10}
command -v valgrind >/dev/null || { echo "callgrind_per_request: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d /tmp/baton-callgrind.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  if [[ -n ${CG_KEEP:-} ]]; then mkdir -p "$CG_KEEP" && cp "$work"/cg.out* "$CG_KEEP"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
case $kind in
  batond) args=(--listen=127.0.0.1:0 --shards=${CG_SHARDS:-2} --data_dir="$work/data" ${CG_BATOND_FLAGS:-}); target=baton
          counted='SessionState::Check(' ;;
  echo_cb) args=(--listen=127.0.0.1:0 --api=callback); target=echo-cb
           counted='ClientMessage::_InternalParse' ;;
  *) echo "callgrind_per_request: SERVER is batond or echo_cb, not $kind" >&2; exit 2 ;;
esac
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --instr-atstart=no \
  "$bin" "${args[@]}" 2>"$work/server.log" &
pid=$!
addr=
for _ in $(seq 1 300); do
  addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/server.log" | head -n1)
  [[ -n $addr ]] && break
  sleep 0.2
done
[[ -n $addr ]] || { echo "callgrind_per_request: the server did not start" >&2; exit 1; }
sleep "${CG_SETTLE:-0}"  # a cluster node admits names once its acknowledgement is back
"$loadgen" --scenario="$scenario" --target="$target" --target_addr="$addr" --sessions=1 \
  --in_flight=1 --duration=0.2s --warmup=0s >/dev/null 2>&1
"$loadgen" --scenario="$scenario" --target="$target" --target_addr="$addr" --setup=false \
  --sessions="$sessions" --in_flight="$inflight" --duration="$((seconds + 2))s" --warmup=4s \
  >/dev/null 2>&1 &
load=$!
sleep 4
callgrind_control -i on "$pid" >/dev/null 2>&1
sleep "$seconds"
callgrind_control -i off "$pid" >/dev/null 2>&1
wait "$load"
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 1
dump=$(ls "$work"/cg.out.* | head -n1)
total=$(callgrind_annotate "$dump" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
# The callee's call count, as callgrind_annotate's caller tree shows it.
requests=$(callgrind_annotate --tree=caller "$dump" 2>/dev/null | grep -F "$counted" |
  grep -o '([0-9,]*x)' | tr -d '(),x' | sort -n | tail -n1)
[[ -n $total && -n $requests && $requests -gt 0 ]] ||
  { echo "callgrind_per_request: nothing counted" >&2; exit 1; }
echo "$kind $scenario ${sessions}x$inflight: $requests requests, $total instructions," \
  "$((total / requests)) per request"
