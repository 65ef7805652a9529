#!/usr/bin/env bash
# Instructions per unary call of one server, counted by callgrind: exact
# and independent of the machine's load, where CPU time per call on a shared
# machine moves by 20% between runs. bench/RESULTS.md's RLS figures
# ("instructions per call") come from it.
#
#   bench/rls/callgrind_per_call.sh SERVER BINARY ROW
#     SERVER  batond | echo_cb | echo_cq  (echo_*: baton_echo_server --api=callback|cq)
#     ROW     rls_bench's --only row: baton (ShouldRateLimit), admin
#             (Admin.TryAcquire on the same buckets), echo_cb, echo_cq
#
#   bench/rls/callgrind_per_call.sh batond build/server/batond/batond baton
#   -> "batond baton 4x16: 9600 calls, 589409134 instructions, 61397 per call"
#
# The server runs under valgrind --tool=callgrind (batond --shards=2 with one
# rule: domain bench, key user, 10^9 per minute). rls_bench first makes every
# bucket (CG_USERS users, default 1000) and warms the row for 2 s; then the
# counters are zeroed, the row runs CG_SECONDS (default 15) at 4x16 with no
# warm-up (CG_SHAPE="CONNS INFLIGHT" changes 4x16; "1 1" leaves gRPC nothing
# to batch, so the count is the call's alone), and the counters are dumped:
# the dump's total over the calls
# completed in the window (the up to 64 calls still in flight at its end are
# counted in the instructions, not in the calls: under 2%). Everything the
# server does in that window is counted, every thread: gRPC, the shards.
# Set CG_KEEP=DIR to keep the dump (callgrind_annotate reads it).
# rls_bench is $BATON_BUILD_DIR/bench/rls/rls_bench (default build/).
set -euo pipefail
(($# == 3)) || { sed -n '7,11p' "$0" >&2; exit 2; }
kind=$1 bin=$2 row=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BATON_BUILD_DIR:-build}
[[ $build = /* ]] || build=$root/$build
bench=$build/bench/rls/rls_bench
users=${CG_USERS:-1000}
seconds=${CG_SECONDS:-15}
command -v valgrind >/dev/null || { echo "callgrind_per_call: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d /tmp/baton-callgrind.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/rules"
cat >"$work/rules/bench.yaml" <<RULES
domain: bench
descriptors:
  - key: user
    rate_limit: {unit: minute, requests_per_unit: 1000000000}
RULES
case $kind in
  batond) args=(--listen=127.0.0.1:0 --shards=2 --data_dir="$work/data" --rls_config="$work/rules")
          flag=--baton ;;
  echo_cb) args=(--listen=127.0.0.1:0 --api=callback); flag=--echo_cb ;;
  echo_cq) args=(--listen=127.0.0.1:0 --api=cq); flag=--echo_cq ;;
  *) echo "callgrind_per_call: SERVER is batond, echo_cb or echo_cq" >&2; exit 2 ;;
esac
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" "${args[@]}" 2>"$work/log" &
pid=$!
addr=
for _ in $(seq 600); do
  addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/log" | head -n1 || true)
  [[ -n $addr ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $addr ]] || { echo "callgrind_per_call: the server did not start:" >&2; cat "$work/log" >&2; exit 1; }
read -r conns inflight <<<"${CG_SHAPE:-4 16}"
shape=(--users "$users" --conns "$conns" --inflight "$inflight" --admin)
if [[ $kind == batond ]]; then  # every bucket made, so that the window creates none
  "$bench" --baton "$addr" --only admin --seconds 2 --warmup 0.5 "${shape[@]}" >/dev/null
fi
"$bench" "$flag" "$addr" --only "$row" --seconds 2 --warmup 0.5 "${shape[@]}" >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
out=$("$bench" "$flag" "$addr" --only "$row" --seconds "$seconds" --warmup 0 "${shape[@]}")
callgrind_control -d "$pid" >/dev/null 2>&1
per_second=$(awk -F'|' 'NR == 1 {gsub(/[ ,]/, "", $5); print $5}' <<<"$out")
calls=$(awk -v r="$per_second" -v s="$seconds" 'BEGIN {printf "%d", r * s + 0.5}')
instructions=$(sed -n 's/^summary: //p' "$work/cg.out.1")
[[ -n ${CG_KEEP:-} ]] && cp "$work/cg.out.1" "$CG_KEEP/$kind-$row.callgrind.out"
echo "$kind $row ${conns}x$inflight: $calls calls, $instructions instructions, $(awk -v i="$instructions" -v c="$calls" 'BEGIN {printf "%.0f", i / c}') per call"
