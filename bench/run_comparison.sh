#!/usr/bin/env bash
# Baton against its physical limit: batond and the bare gRPC echo server
# (bench/echo, both variants) driven by the same load generator
# (bench/loadgen), and, when bench/peers/run_peers.sh is there, Redis and
# etcd. Writes one Markdown report: the table, the ratios Baton/echo, and
# how it was measured.
#
#   bench/run_comparison.sh [--smoke] [OUTPUT_FILE]     (default: stdout)
#
# It builds Release in build-bench/ (BATON_BENCH_BUILD overrides; with
# BATON_BENCH_PREBUILT=1 it uses the binaries there as they are), starts
# batond (--shards=2, its own temporary --data_dir) and both echo servers on
# free loopback ports, runs every scenario at each concurrency, and stops
# what it started. Progress goes to stderr. A full run takes about 3 minutes
# for Baton and echo plus what the peers take (about 1.5 more: the same 5 s
# windows), the build aside; --smoke runs every scenario for 1 s at low
# concurrency (under 60 s once built, peers included), so that CI keeps the
# harness working. The exit status is 1 when any run failed (its row is then
# missing). bench/run_all.sh runs this and the scale rows, and writes
# bench/RESULTS.md.
#
# Peers: bench/peers/run_peers.sh [--smoke] ADDR_FILE, if executable, is run
# after Baton's scenarios (with BATON_BUILD_DIR set to our build folder); the
# rows it prints on stdout (lines starting with "| ", headers aside) go into
# the table. ADDR_FILE is a shell-sourceable file of KEY=VALUE lines:
#   LOADGEN        absolute path of baton_loadgen
#   BATON_ADDR     batond's HOST:PORT;   BATON_PID its pid
#   ECHO_CALLBACK_ADDR, ECHO_CQ_ADDR     the echo servers' HOST:PORT
#   DURATION, WARMUP                     as given to baton_loadgen (e.g. 5s)
#   CONCURRENCY    "SESSIONSxIN_FLIGHT ..." (e.g. "1x1 4x16 100x4")
#   SMOKE          1 under --smoke, else 0
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BATON_BENCH_BUILD:-$root/build-bench}
smoke=0
output=""
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_comparison.sh: unknown flag $arg" >&2; exit 2 ;;
    *) output=$arg ;;
  esac
done
command_line="bench/run_comparison.sh $*"

if (( smoke )); then
  duration=1s; warmup=0.3s
  concurrencies=("2 4")
else
  duration=5s; warmup=1s
  # 1x1: latency at rest; 4x16: few sessions, deep pipelines; 100x4: many
  # sessions, shallow pipelines.
  concurrencies=("1 1" "4 16" "100 4")
fi

# shellcheck source=bench/common/build.sh
source "$root/bench/common/build.sh"
bench_build run_comparison "$build" "$root" batond baton_echo_server baton_loadgen
loadgen=$build/bench/loadgen/baton_loadgen

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server NAME COMMAND...: starts it in the background and waits for
# its "listening on HOST:PORT" line; sets server_pid and server_addr.
start_server() {
  local name=$1; shift
  : >"$tmp/$name.log"
  "$@" 2>>"$tmp/$name.log" &
  server_pid=$!
  pids+=("$server_pid")
  local i
  for (( i = 0; i < 100; i++ )); do
    server_addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/$name.log" | head -n1 || true)
    [[ -n $server_addr ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run_comparison.sh: $name did not start:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

start_server batond "$build/server/batond/batond" --listen=127.0.0.1:0 --shards=2 \
  --data_dir="$tmp/batond-data"
baton_pid=$server_pid baton_addr=$server_addr
start_server echo-cb "$build/bench/echo/baton_echo_server" --listen=127.0.0.1:0 --api=callback
echo_cb_pid=$server_pid echo_cb_addr=$server_addr
start_server echo-cq "$build/bench/echo/baton_echo_server" --listen=127.0.0.1:0 --api=cq
echo_cq_pid=$server_pid echo_cq_addr=$server_addr

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
rows=$tmp/rows.md
: >"$rows"
failed=0

# run TARGET ADDR PID SESSIONS IN_FLIGHT SCENARIO [FLAGS...]: one row.
run() {
  local target=$1 addr=$2 pid=$3 sessions=$4 in_flight=$5 scenario=$6
  shift 6
  echo "  $scenario $* on $target, $sessions x $in_flight" >&2
  if ! "$loadgen" --scenario="$scenario" --target="$target" --target_addr="$addr" \
      --server_pid="$pid" --sessions="$sessions" --in_flight="$in_flight" \
      --duration="$duration" --warmup="$warmup" "$@" >>"$rows" 2>"$tmp/loadgen.log"; then
    echo "run_comparison.sh: FAILED: $scenario $* on $target ($sessions x $in_flight):" >&2
    cat "$tmp/loadgen.log" >&2
    failed=1
  fi
}

for concurrency in "${concurrencies[@]}"; do
  read -r sessions in_flight <<<"$concurrency"
  echo "sessions $sessions, in flight $in_flight" >&2
  run echo-cb "$echo_cb_addr" "$echo_cb_pid" "$sessions" "$in_flight" echo
  run echo-cq "$echo_cq_addr" "$echo_cq_pid" "$sessions" "$in_flight" echo
  # gRPC's limits for one request per message and for a unary call, beside
  # Baton's unbatched and unary rows.
  if (( in_flight > 1 )); then
    run echo-cb "$echo_cb_addr" "$echo_cb_pid" "$sessions" "$in_flight" echo --batch=1
    run echo-cq "$echo_cq_addr" "$echo_cq_pid" "$sessions" "$in_flight" echo --batch=1
  fi
  run echo-cb "$echo_cb_addr" "$echo_cb_pid" "$sessions" "$in_flight" echo_unary
  run echo-cq "$echo_cq_addr" "$echo_cq_pid" "$sessions" "$in_flight" echo_unary
  for scenario in lock semaphore rate_stream; do
    run baton "$baton_addr" "$baton_pid" "$sessions" "$in_flight" "$scenario"
  done
  run baton "$baton_addr" "$baton_pid" "$sessions" "$in_flight" rate_stream --hot_key
  # Without batching (one request per ClientMessage): to compare with Redis
  # without pipelining. With one request in flight there is nothing to batch.
  if (( in_flight > 1 )); then
    run baton "$baton_addr" "$baton_pid" "$sessions" "$in_flight" rate_stream --batch=1
    run baton "$baton_addr" "$baton_pid" "$sessions" "$in_flight" rate_stream --hot_key --batch=1
  fi
  run baton "$baton_addr" "$baton_pid" "$sessions" "$in_flight" rate_unary
done
# One pair of sessions passing one lock: compared with the echo round trip
# at 1 x 1 (full run) or the smallest concurrency (smoke).
run baton "$baton_addr" "$baton_pid" 2 1 handoff

peer_rows=$tmp/peer-rows.md
: >"$peer_rows"
peers=$root/bench/peers/run_peers.sh
peer_note="bench/peers/run_peers.sh: not present"
if [[ -x $peers ]]; then
  addr_file=$tmp/addrs
  concurrency_list=""
  for concurrency in "${concurrencies[@]}"; do
    read -r sessions in_flight <<<"$concurrency"
    concurrency_list+="${concurrency_list:+ }${sessions}x${in_flight}"
  done
  cat >"$addr_file" <<EOF
LOADGEN=$loadgen
BATON_ADDR=$baton_addr
BATON_PID=$baton_pid
ECHO_CALLBACK_ADDR=$echo_cb_addr
ECHO_CQ_ADDR=$echo_cq_addr
DURATION=$duration
WARMUP=$warmup
CONCURRENCY="$concurrency_list"
SMOKE=$smoke
EOF
  echo "peers: $peers" >&2
  peer_flags=()
  (( smoke )) && peer_flags+=(--smoke)
  # It builds its programs in our build folder, not in build/.
  if BATON_BUILD_DIR=$build "$peers" "${peer_flags[@]}" "$addr_file" >"$tmp/peers.out"; then
    peer_note="bench/peers/run_peers.sh: ran"
  else
    peer_note="bench/peers/run_peers.sh: FAILED (exit $?); its rows, if any, are below"
    failed=1
  fi
  grep '^| ' "$tmp/peers.out" | grep -v '^| scenario |' | grep -v '^| ---' >"$peer_rows" || true
fi

# The ratios Baton/echo, from the rows: each Baton row against each echo
# variant at the same concurrency (handoff against the smallest one: its
# latency is one release-to-grant, to be compared with one round trip).
ratios() {
  awk -F'|' -v latency_base="${concurrencies[0]// /x}" '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    function kind(s) { return s ~ /unary/ ? "unary" : s ~ /no batching/ ? "unbatched" : "batched" }
    function ratio(a, b) { return (b + 0 > 0 && a != "-" && b != "-") ? sprintf("%.2f", a / b) : "-" }
    {
      scenario = trim($2); target = trim($3); conc = trim($4) "x" trim($5)
      n++; sc[n] = scenario; tg[n] = target; cc[n] = conc
      ops[n] = trim($6); p50[n] = trim($7); p99[n] = trim($8); cpu[n] = trim($10)
      # Echo batched, unbatched and unary; a Baton row is compared with the
      # echo row of the same kind.
      if (scenario ~ /^echo/) echo_row[target, conc, kind(scenario)] = n
    }
    END {
      print "| Baton scenario | sessions x in flight | ops/s vs echo-cb | ops/s vs echo-cq | CPU/op vs echo-cb | CPU/op vs echo-cq | p50 vs echo-cb | p99 vs echo-cb | p50 vs echo-cq | p99 vs echo-cq |"
      print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      for (i = 1; i <= n; i++) {
        if (tg[i] != "baton") continue
        base = (sc[i] == "handoff") ? latency_base : cc[i]
        k = kind(sc[i])
        cb = echo_row["echo-cb", base, k]; cq = echo_row["echo-cq", base, k]
        if (!cb || !cq) continue
        # A handoff is several requests: only its latency compares.
        same = (sc[i] != "handoff")
        printf "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc[i], cc[i],
          same ? "" : " (echo at " base ")",
          same ? ratio(ops[i], ops[cb]) : "-", same ? ratio(ops[i], ops[cq]) : "-",
          same ? ratio(cpu[i], cpu[cb]) : "-", same ? ratio(cpu[i], cpu[cq]) : "-",
          ratio(p50[i], p50[cb]), ratio(p99[i], p99[cb]),
          ratio(p50[i], p50[cq]), ratio(p99[i], p99[cq])
      }
    }' "$rows"
}

report() {
  echo "## $(date -u +%Y-%m-%d) · commit $(git -C "$root" rev-parse --short HEAD) · Baton against the echo baseline$( ((smoke)) && echo ' (smoke)')"
  echo
  echo "- date: $(date -u)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name: *//')"
  echo "- load average before the runs: $load_at_start"
  echo "- command: \`$command_line\`"
  echo "- servers: batond --shards=2 (fresh --data_dir); baton_echo_server --api=callback (echo-cb) and --api=cq (echo-cq, one completion queue per core); all on loopback, sharing the cores with the load generator"
  echo "- each row: baton_loadgen, warm-up $warmup then $duration measured; an op is one request answered (a lock's acquire and its release are two), except handoff (one release-to-grant); latency from the request being ready to send to its answer; batching on (up to 1000 requests per ClientMessage) unless the row says \"no batching\"; server CPU is utime+stime of the server process over the window"
  echo "- $peer_note"
  echo
  echo "### Throughput, latency, server CPU"
  echo
  "$loadgen" --header
  cat "$rows" "$peer_rows"
  echo
  echo "### Baton / echo"
  echo
  echo "Above 1: Baton has more (ops/s) or costs more (CPU per op, latency)."
  echo
  ratios
}

if [[ -n $output ]]; then
  report >"$output"
  echo "wrote $output" >&2
else
  report
fi
exit "$failed"
