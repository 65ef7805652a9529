#!/usr/bin/env bash
# Runs bench/loadgen's scenarios against the servers users would pick instead
# of Baton and prints one Markdown row per run, in bench/loadgen's table:
#   Redis 7 (redis-server, hiredis): rate_stream (Lua token bucket, uniform keys
#     and one hot key) and lock (SET NX PX + compare-and-delete), pipelined
#     (K commands in flight per connection) and not (one per connection, with
#     N x K connections so that as many requests are in flight);
#   etcd 3.4 (etcd-server, its v3lock gRPC service): lock.
#
#   bench/peers/run_peers.sh [--smoke] ADDR_FILE
#
# ADDR_FILE is the file bench/run_comparison.sh writes (KEY=VALUE lines, see
# there); when it sets them, each run uses its DURATION and WARMUP (the window
# of Baton's rows) and its CONCURRENCY ("SESSIONSxIN_FLIGHT ...", 1x1 left
# out: a single request in flight says nothing of a server's throughput), so
# that the peers' rows line up with Baton's. Without them: 10 s (1 s warm-up)
# at 4x16 and 100x4, or with --smoke 1 s (0.3 s) at 2x2 (the whole script in
# under 40 s). PEERS_SECONDS and PEERS_WARMUP override the window. The
# binaries come from
# $BATON_BUILD_DIR (default build/), built there if missing. Installs
# redis-server, libhiredis-dev and etcd-server with apt-get when missing
# (needs root or sudo -n; services are kept from starting). Both servers listen
# on free loopback ports only, without persistence (etcd's data dir on
# /dev/shm), and are stopped when the script ends, however it ends.
set -euo pipefail

usage() {
  echo "usage: $0 [--smoke] ADDR_FILE" >&2
  exit 2
}
log() { echo "run_peers: $*" >&2; }

smoke=0
addr_file=
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    -h | --help) usage ;;
    -*) echo "unknown flag $arg" >&2; usage ;;
    *) [[ -z $addr_file ]] || usage; addr_file=$arg ;;
  esac
done
[[ -n $addr_file ]] || usage
[[ -r $addr_file ]] || { echo "run_peers: cannot read $addr_file" >&2; exit 2; }
# Only the keys we use, without running the file.
addr_value() {  # KEY: its value in ADDR_FILE, quotes and a trailing "s" dropped
  sed -n "s/^$1=//p" "$addr_file" | tail -n1 | tr -d '"' | sed 's/s$//'
}
given_duration=$(addr_value DURATION)
given_warmup=$(addr_value WARMUP)
given_concurrency=$(addr_value CONCURRENCY)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BATON_BUILD_DIR:-build}
[[ $build = /* ]] || build=$root/$build

if ((smoke)); then
  seconds=1
  warmup=0.3
  concurrencies=("2 2")
else
  seconds=10
  warmup=1
  # The concurrencies bench/loadgen's runner uses: sessions x in flight.
  concurrencies=("4 16" "100 4")
fi
number='^[0-9]+([.][0-9]+)?$'
[[ $given_duration =~ $number ]] && seconds=$given_duration
[[ $given_warmup =~ $number ]] && warmup=$given_warmup
seconds=${PEERS_SECONDS:-$seconds}
warmup=${PEERS_WARMUP:-$warmup}
if [[ -n $given_concurrency ]]; then
  concurrencies=()
  for c in $given_concurrency; do
    [[ $c =~ ^([0-9]+)x([0-9]+)$ ]] || { log "bad CONCURRENCY entry '$c' in $addr_file"; exit 2; }
    [[ $c == 1x1 ]] && continue
    concurrencies+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]}")
  done
fi

# --- install what is missing --------------------------------------------------
as_root() {
  if ((EUID == 0)); then "$@"; else sudo -n "$@"; fi
}
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
pkg-config --exists hiredis 2>/dev/null || missing+=(libhiredis-dev pkg-config)
command -v etcd >/dev/null || missing+=(etcd-server)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  # A policy-rc.d that refuses keeps the packages' services from starting.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    made_policy=1
  fi
  status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || status=$?
  ((status)) || as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || status=$?
  ((made_policy)) && as_root rm -f "$policy"
  ((status == 0)) || { log "apt-get failed"; exit 1; }
fi

# --- build what is missing ----------------------------------------------------
redis_bench=$build/bench/peers/redis_bench
etcd_bench=$build/bench/peers/etcd_bench
if [[ ! -x $redis_bench || ! -x $etcd_bench ]]; then
  log "building redis_bench and etcd_bench in $build"
  if [[ -f $build/CMakeCache.txt ]]; then
    cmake "$build" >/dev/null  # again, so that it finds hiredis if just installed
  else
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" --target redis_bench etcd_bench >&2
fi

# --- servers --------------------------------------------------------------------
work=$(mktemp -d /dev/shm/baton-peers.XXXXXX)
redis_pid=
etcd_pid=
stop_server() {  # PID: TERM, at most 5 s, then KILL
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server "$redis_pid"
  stop_server "$etcd_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taken=()
free_port() {  # VAR: a TCP port nothing listens on or connects from
  local used p
  used=$(ss -Htan | awk '{n = split($4, a, ":"); print a[n]}')
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    grep -qx "$p" <<<"$used" && continue
    [[ " ${taken[*]} " == *" $p "* ]] && continue
    taken+=("$p")
    printf -v "$1" '%s' "$p"
    return 0
  done
  log "no free port"
  return 1
}

free_port redis_port
redis-server --bind 127.0.0.1 --port "$redis_port" --protected-mode yes \
  --save '' --appendonly no --daemonize no --dir "$work" \
  --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
  [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
  kill -0 "$redis_pid" 2>/dev/null || { log "redis-server died:"; cat "$work/redis.log" >&2; exit 1; }
  sleep 0.1
done
[[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] ||
  { log "redis-server did not answer"; exit 1; }
redis_version=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')

free_port etcd_client_port
free_port etcd_peer_port
etcd --name peers --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_client_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_client_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "peers=http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster-state new --logger zap --log-outputs stderr --log-level warn \
  2>"$work/etcd.log" &
etcd_pid=$!
etcd_healthy() {
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    grep -q "\"health\":\"true\"" <&3' _ "$etcd_client_port" 2>/dev/null
}
for _ in $(seq 100); do
  etcd_healthy && break
  kill -0 "$etcd_pid" 2>/dev/null || { log "etcd died:"; cat "$work/etcd.log" >&2; exit 1; }
  sleep 0.1
done
etcd_healthy || { log "etcd is not healthy"; cat "$work/etcd.log" >&2; exit 1; }
etcd_version=$(etcd --version | sed -n 's/^etcd Version: //p')
log "redis $redis_version on 127.0.0.1:$redis_port (pid $redis_pid)," \
  "etcd $etcd_version on 127.0.0.1:$etcd_client_port (pid $etcd_pid)"

# --- runs ---------------------------------------------------------------------
failed=0
limit=$(awk -v s="$seconds" -v w="$warmup" 'BEGIN { printf "%d", s + w + 30 }')
run() {  # a bench's command line; its row goes to stdout
  timeout -k 5 "$limit" "$@" --seconds "$seconds" --warmup "$warmup" || {
    log "failed ($?): $*"
    failed=1
  }
}
redis_run() {  # SCENARIO SESSIONS IN_FLIGHT [ARGS...]: pipelined, then not
  local scenario=$1 n=$2 k=$3
  shift 3
  run "$redis_bench" --port "$redis_port" --server_pid "$redis_pid" --scenario "$scenario" \
    --sessions "$n" --inflight "$k" --target "redis $redis_version pipelined" "$@"
  run "$redis_bench" --port "$redis_port" --server_pid "$redis_pid" --scenario "$scenario" \
    --sessions $((n * k)) --inflight 1 --target "redis $redis_version" "$@"
}

echo "| scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server CPU s per 1M ops |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${concurrencies[@]}"; do
  read -r n k <<<"$c"
  redis_run rate_stream "$n" "$k"
  redis_run rate_stream "$n" "$k" --hot
  redis_run lock "$n" "$k"
  run "$etcd_bench" --endpoint "127.0.0.1:$etcd_client_port" --server_pid "$etcd_pid" \
    --scenario lock --sessions "$n" --inflight "$k" --target "etcd $etcd_version"
done
exit "$failed"
