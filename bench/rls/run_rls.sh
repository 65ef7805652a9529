#!/usr/bin/env bash
# Envoy's global rate limit on batond, beside the gRPC unary floor, Baton's
# own cheapest unary decision, and the way envoyproxy/ratelimit makes the
# same decisions on Redis, at the same concurrency, in one run
# (bench/rls/rls_bench.cc says what each row sends). Prints a Markdown
# section: date, commit, load average before and after, the command, and the
# table (decisions/s, p50, p99, server CPU µs per decision, ratio rows).
#
#   bench/rls/run_rls.sh [--smoke]
#
# Rows, each at N x K decisions in flight (N connections x K calls):
#   batond ShouldRateLimit (gRPC's callback API); baton_echo_server's empty
#   unary TryAcquire on --api=callback (the same API) and on --api=cq (the
#   completion-queue API): the gRPC floor, the faster of the two;
#   batond Admin.TryAcquire on the same buckets; rls_ratelimit_model, the
#   whole path of envoyproxy/ratelimit (ShouldRateLimit on C++ gRPC, then
#   INCRBY+EXPIRE on a pool of 10 Redis connections: what batond replaces,
#   its CPU counted with Redis's); Redis INCRBY+EXPIRE with K
#   requests pipelined per connection, and with one request per connection
#   on N x K connections (ratelimit's default pool); then the same at 1x1
#   (not in --smoke); then an over-limit row (a rule of a few requests per
#   second over a few users: most answers OVER_LIMIT) whose OK count is
#   checked against the token bucket's figure; then the ratios Baton/floor
#   (the faster echo server), Baton/Admin.TryAcquire, Baton/ratelimit model
#   and Baton/Redis.
#
# Default: 5 s per row (1 s warm-up) at 4 connections x 16 in flight, 10,000
# distinct users, about 1.5 min; --smoke: 1 s (0.3 s warm-up) at 2x2, 100
# users, no 1x1 rows (the whole script in about 15 s, for CI). RLS_SECONDS,
# RLS_WARMUP, RLS_CONNS, RLS_INFLIGHT, RLS_USERS and RLS_1X1 (0 or 1)
# override them.
#
# The build directory is $BATON_BENCH_BUILD (as bench/run_all.sh passes it)
# or $BATON_BUILD_DIR, default build/. $RLS_BATOND runs another batond
# binary (an A/B against an older build).
#
# Servers, on free loopback ports, stopped when the script ends however it
# ends: batond --shards=2 with a fresh --data_dir and --rls_config holding two
# domains: bench (descriptor key user with no value: one bucket per user,
# requests_per_unit 1,000,000,000 per minute, so every request is allowed)
# and bench_over (key user, 100 per second; --smoke 20); two
# baton_echo_server; rls_ratelimit_model; redis-server without persistence. Binaries come from
# $BATON_BUILD_DIR (default build/), built there (bench/common/build.sh)
# unless BATON_BENCH_PREBUILT=1. Needs redis-server and libhiredis-dev
# installed (bench/peers/run_peers.sh installs them).
set -euo pipefail

log() { echo "run_rls: $*" >&2; }
smoke=0
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BATON_BENCH_BUILD:-${BATON_BUILD_DIR:-build}}
[[ $build = /* ]] || build=$root/$build
# shellcheck source=../common/build.sh
source "$root/bench/common/build.sh"

if ((smoke)); then
  seconds=1 warmup=0.3 conns=2 inflight=2 users=100 also_1x1=0 over_rpu=20
else
  seconds=5 warmup=1 conns=4 inflight=16 users=10000 also_1x1=1 over_rpu=100
fi
also_1x1=${RLS_1X1:-$also_1x1}
over_users=10
seconds=${RLS_SECONDS:-$seconds}
warmup=${RLS_WARMUP:-$warmup}
conns=${RLS_CONNS:-$conns}
inflight=${RLS_INFLIGHT:-$inflight}
users=${RLS_USERS:-$users}
rpu=1000000000
unit=minute
unit_seconds=60

command -v redis-server >/dev/null || { log "redis-server is not installed"; exit 1; }
bench_build run_rls "$build" "$root" batond baton_echo_server rls_bench rls_ratelimit_model
batond=${RLS_BATOND:-$build/server/batond/batond}
echo_server=$build/bench/echo/baton_echo_server
rls_bench=$build/bench/rls/rls_bench
model=$build/bench/rls/rls_ratelimit_model
# Like bench/peers/run_peers.sh: rls_bench is built only where hiredis is, so
# a prebuilt tree (CI's) may lack it; build just it when hiredis is there.
if [[ ! -x $rls_bench && -f $build/CMakeCache.txt ]] && pkg-config --exists hiredis 2>/dev/null; then
  log "building rls_bench in $build"
  cmake "$build" >/dev/null  # again, so that it finds hiredis if just installed
  cmake --build "$build" --target rls_bench rls_ratelimit_model >&2
fi
[[ -x $batond && -x $rls_bench && -x $echo_server && -x $model ]] ||
  { log "missing $batond, $echo_server, $rls_bench or $model (libhiredis-dev?)"; exit 1; }

work=$(mktemp -d /dev/shm/baton-rls.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$work/rules"
cat >"$work/rules/bench.yaml" <<EOF
domain: bench
descriptors:
  - key: user
    rate_limit: {unit: $unit, requests_per_unit: $rpu}
EOF
cat >"$work/rules/bench_over.yaml" <<EOF
domain: bench_over
descriptors:
  - key: user
    rate_limit: {unit: second, requests_per_unit: $over_rpu}
EOF

# wait_listening LOG PID: the HOST:PORT of the server's "listening on" line.
wait_listening() {
  local addr=
  for _ in $(seq 100); do
    addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$1" | head -n1 || true)
    [[ -n $addr ]] && break
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $addr ]] || { log "a server did not start:"; cat "$1" >&2; return 1; }
  echo "$addr"
}

"$batond" --listen=127.0.0.1:0 --shards=2 --data_dir="$work/batond-data" \
  --rls_config="$work/rules" 2>"$work/batond.log" &
baton_pid=$!
pids+=("$baton_pid")
baton_addr=$(wait_listening "$work/batond.log" "$baton_pid")
echo_addr=() echo_pid=()
for api in callback cq; do
  "$echo_server" --listen=127.0.0.1:0 --api=$api 2>"$work/echo-$api.log" &
  echo_pid+=($!)
  pids+=($!)
  echo_addr+=("$(wait_listening "$work/echo-$api.log" $!)")
done

redis_port=
used=$(ss -Htan | awk '{n = split($4, a, ":"); print a[n]}')
for _ in $(seq 200); do
  p=$((20000 + RANDOM % 40000))
  grep -qx "$p" <<<"$used" || { redis_port=$p; break; }
done
[[ -n $redis_port ]] || { log "no free port"; exit 1; }
redis-server --bind 127.0.0.1 --port "$redis_port" --protected-mode yes --save '' \
  --appendonly no --daemonize no --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do
  [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
  kill -0 "$redis_pid" 2>/dev/null || { log "redis-server died:"; cat "$work/redis.log" >&2; exit 1; }
  sleep 0.1
done
redis_version=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')

# envoyproxy/ratelimit's whole path on the same Redis, with its default pool.
"$model" --listen=127.0.0.1:0 --redis_port="$redis_port" --pool=10 --key=user \
  --requests_per_unit="$rpu" --unit_seconds="$unit_seconds" 2>"$work/model.log" &
model_pid=$!
pids+=("$model_pid")
model_addr=$(wait_listening "$work/model.log" "$model_pid")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u)
status=0
extra=()
((also_1x1)) && extra+=(--also_1x1)
table=$("$rls_bench" --header --baton "$baton_addr" --baton_pid "$baton_pid" --admin \
  --echo_cb "${echo_addr[0]}" --echo_cb_pid "${echo_pid[0]}" \
  --echo_cq "${echo_addr[1]}" --echo_cq_pid "${echo_pid[1]}" \
  --over_domain bench_over --over_users "$over_users" --over_requests_per_unit "$over_rpu" \
  --over_unit_seconds 1 "${extra[@]}" \
  --redis_port "$redis_port" --redis_pid "$redis_pid" --redis_label "redis $redis_version" \
  --model "$model_addr" --model_pids "$model_pid,$redis_pid" \
  --model_label "ratelimit model (C++ gRPC + redis $redis_version, pool 10)" \
  --conns "$conns" --inflight "$inflight" --seconds "$seconds" --warmup "$warmup" \
  --users "$users" --domain bench --key user --requests_per_unit "$rpu" \
  --unit_seconds "$unit_seconds") || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "- date: $start"
echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
echo "- machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
echo "- command: \`bench/rls/run_rls.sh$( ((smoke)) && echo ' --smoke')\` ($seconds s per row after $warmup s warm-up, $conns connections x $inflight in flight$( ((also_1x1)) && echo ', and 1x1'), $users users uniform)"
echo "- load average (1, 5, 15 min): $load_before before, $load_after after"
echo "- batond: $batond"
echo "- servers: batond --shards=2 (rules: domain bench, key user, $rpu per $unit; domain bench_over, key user, $over_rpu per second, $over_users users); baton_echo_server --api=callback and --api=cq; rls_ratelimit_model (envoyproxy/ratelimit's path: gRPC, then INCRBY+EXPIRE on a pool of 10 Redis connections); redis-server $redis_version, no persistence; loopback, sharing the cores with the client"
echo
echo "$table"
((status == 0)) || log "rls_bench failed ($status)"
exit "$status"
