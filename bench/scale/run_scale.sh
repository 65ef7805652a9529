#!/usr/bin/env bash
# Baton's scale rows: memory per idle session, per idle instance
# and per queued waiter (RSS deltas of batond), and lock throughput with
# 10,000 sessions against 100. Prints one Markdown report: date, commit,
# machine, command, then baton_scale_bench's table and raw figures.
#
#   bench/scale/run_scale.sh [--smoke] [OUTPUT_FILE]     (default: stdout)
#
# It builds Release in build-bench/ (BATON_BENCH_BUILD overrides; with
# BATON_BENCH_PREBUILT=1 it uses the binaries there as they are), starts its
# own batond on a free loopback port (--shards=2, a temporary --data_dir,
# --idle_eviction=0 so the idle instances stay, --max_sessions=20000 and the
# per-session limits raised to 2,000,000), runs bench/scale/scale_bench.cc
# against it, and stops it (SIGTERM, then SIGKILL after a bounded wait).
# Progress goes to stderr. A full run takes about 3 minutes once built;
# --smoke scales every count down 100x (under 20 s once built). Exit status
# 1 when the run failed.
#
# batond reads BATON_* variables: BATON_COMPLETION_QUEUES=N runs it with
# the sessions on N completion queues (the report says so).
#
# Throughput figures share the cores with the load generator (and with
# whatever else runs, e.g. a CI run): they are noisy. RSS figures are not
# disturbed by other load.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BATON_BENCH_BUILD:-$root/build-bench}
smoke=0
output=""
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_scale.sh: unknown flag $arg" >&2; exit 2 ;;
    *) output=$arg ;;
  esac
done
command_line="bench/scale/run_scale.sh $*"

if (( smoke )); then
  bench_flags=(--sessions=100 --channels=1 --instances=10000 --waiters=10000
               --waiter_sessions=10 --throughput_small=1 --throughput_large=100
               --warmup=0.3s --duration=1s --settle=0.5s --samples=3 --phase_timeout=15s)
else
  bench_flags=(--sessions=10000 --channels=100 --instances=1000000 --waiters=1000000
               --waiter_sessions=100 --throughput_small=100 --throughput_large=10000
               --warmup=2s --duration=5s --settle=2s --samples=5 --phase_timeout=90s)
fi
limit=2000000
max_sessions=20000

# File descriptors: batond needs one per connection (at most a few hundred
# here) plus its own; raise the soft limit towards the hard one.
want_fds=$(( max_sessions + 1024 ))
hard_fds=$(ulimit -Hn)
if [[ $hard_fds == unlimited ]] || (( hard_fds >= want_fds )); then
  ulimit -n "$want_fds" 2>/dev/null || true
else
  ulimit -n "$hard_fds" 2>/dev/null || true
fi

# shellcheck source=bench/common/build.sh
source "$root/bench/common/build.sh"
bench_build run_scale "$build" "$root" batond baton_scale_bench
bench=$build/bench/scale/baton_scale_bench

tmp=$(mktemp -d)
batond_pid=""
stop_batond() {
  [[ -n $batond_pid ]] || return 0
  kill -TERM "$batond_pid" 2>/dev/null || true
  local i
  for (( i = 0; i < 100; i++ )); do  # 10 s
    kill -0 "$batond_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$batond_pid" 2>/dev/null; then
    echo "run_scale.sh: batond did not stop within 10 s: SIGKILL" >&2
    kill -KILL "$batond_pid" 2>/dev/null || true
  fi
  wait "$batond_pid" 2>/dev/null || true
  batond_pid=""
}
cleanup() {
  stop_batond
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_batond [FLAG...]: a fresh batond; sets batond_pid and addr.
# --grace=1s: on SIGTERM the streams still open end within a second.
start_batond() {
  : >"$tmp/batond.log"
  rm -rf "$tmp/batond-data"
  "$build/server/batond/batond" --listen=127.0.0.1:0 --shards=2 --data_dir="$tmp/batond-data" \
    --idle_eviction=0 --max_sessions=$max_sessions --max_pending_requests=$limit \
    --max_waits_per_session=$limit --grace=1s "$@" 2>"$tmp/batond.log" &
  batond_pid=$!
  addr=""
  local i
  for (( i = 0; i < 100; i++ )); do  # 10 s
    addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/batond.log" | head -n1 || true)
    [[ -n $addr ]] && break
    kill -0 "$batond_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $addr ]]; then
    echo "run_scale.sh: batond did not start:" >&2
    cat "$tmp/batond.log" >&2
    exit 1
  fi
}
start_batond

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
ci_running=no
pgrep -f ci-clone >/dev/null 2>&1 && ci_running=yes
echo "batond $batond_pid on $addr; running baton_scale_bench" >&2
status=0
# The program bounds each of its waits; timeout bounds the whole run.
timeout --kill-after=10s "$( ((smoke)) && echo 60s || echo 280s )" \
  "$bench" --target_addr="$addr" --server_pid="$batond_pid" --max_waits_per_session=$limit \
  "${bench_flags[@]}" >"$tmp/table.md" || status=$?
stop_batond
# The throughput phase again, on a batond serving its sessions on completion
# queues (--completion_queues: the setting for many sessions), unless the
# environment chose the API of the first run already.
queues=$(( 4 * $(nproc) ))
if (( status == 0 )) && [[ -z ${BATON_COMPLETION_QUEUES:-} ]]; then
  start_batond --completion_queues="$queues"
  echo "batond $batond_pid on $addr ($queues completion queues); throughput again" >&2
  timeout --kill-after=10s "$( ((smoke)) && echo 60s || echo 120s )" \
    "$bench" --target_addr="$addr" --server_pid="$batond_pid" --max_waits_per_session=$limit \
    "${bench_flags[@]}" --only_throughput --label=", sessions on $queues completion queues" \
    >"$tmp/queues.md" || status=$?
  stop_batond
  # Its rows after the first run's, before the first run's notes.
  awk -v rows="$(grep '^| ' "$tmp/queues.md" | grep -v '^| measure' | grep -v '^| ---')" \
      -v notes="$(grep '^- throughput' "$tmp/queues.md")" '
    /^\| / { print; in_table = 1; next }
    in_table && !done { print rows; done = 1 }
    /^- errors:/ && notes != "" { print notes }
    { print }' "$tmp/table.md" >"$tmp/table2.md" && mv "$tmp/table2.md" "$tmp/table.md"
fi
if (( status != 0 )); then
  echo "run_scale.sh: baton_scale_bench failed (exit $status); batond's log ends:" >&2
  tail -n 20 "$tmp/batond.log" >&2
fi

report() {
  echo "## $(date -u +%Y-%m-%d) · commit $(git -C "$root" rev-parse --short HEAD) · scale: memory per session, instance, waiter; throughput with many sessions$( ((smoke)) && echo ' (smoke)')"
  echo
  echo "- date: $(date -u)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "- load average before the run: $load_at_start; a CI run (ci-clone) was running: $ci_running"
  echo "- command: \`$command_line\`"
  echo "- server: batond --shards=2 --idle_eviction=0 --max_sessions=$max_sessions --max_pending_requests=$limit --max_waits_per_session=$limit (fresh --data_dir)$( [[ -n ${BATON_COMPLETION_QUEUES:-} ]] && echo ", BATON_COMPLETION_QUEUES=$BATON_COMPLETION_QUEUES (sessions on that many completion queues)" || echo ", sessions on the callback API"), on loopback, sharing the cores with the client"
  [[ -z ${BATON_COMPLETION_QUEUES:-} ]] && echo "- then the throughput phase alone on a second, fresh batond with --completion_queues=$queues (the rows that say so)"
  echo "- client: \`baton_scale_bench ${bench_flags[*]}\`; memory figures are deltas of batond's VmRSS around each phase (glibc malloc: freed memory stays counted, so each phase keeps what it made until the memory phases are over)"
  echo
  cat "$tmp/table.md"
}

if [[ -n $output ]]; then
  report >"$output"
  echo "wrote $output" >&2
else
  report
fi
exit $(( status != 0 ))
