#!/usr/bin/env bash
# Kept state in a cluster: count_down/s when what is kept goes to etcd (a
# one-node cluster, --durable, the default) against the same node keeping
# nothing (--durable=false) and against a lone batond keeping it in LevelDB,
# in one run, at 4 sessions x 16 and x 256 in flight. A count_down's answer
# waits until its change is durable: an etcd transaction (etcd's own fsync)
# in a cluster, a LevelDB group commit alone.
#
#   bench/durable/run_cluster.sh [BUILD_DIR]     # default: build
#
# Prints a markdown table. etcd is /usr/bin/etcd on a temp dir.
set -euo pipefail
build=${1:-build}
batond=$build/server/batond/batond
loadgen=$build/bench/loadgen/baton_loadgen
work=$(mktemp -d "${TMPDIR:-/tmp}/baton-durable-cluster.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

# shellcheck source=bench/common/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/etcd.sh"
start_etcd "$work/etcd"

# start DATA_DIR FLAGS...: starts batond, waits for "listening on" (and, in
# a cluster, for its first acknowledgement), sets pid and addr.
start() {
  local dir=$1; shift
  local log=$work/batond.log
  "$batond" --listen=127.0.0.1:0 --shards=2 --data_dir="$dir" "$@" 2>"$log" &
  pid=$!
  until grep -q "listening on" "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.01
  done
  addr=$(grep -o "listening on [0-9.]*:[0-9]*" "$log" | head -1 | awk '{print $3}')
  sleep 1  # a cluster node admits names once its acknowledgement is back
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }

declare -A figure
echo "| count_down, 4 sessions x N in flight | kept | count_down/s | p99 µs |"
echo "| --- | --- | ---: | ---: |"
run=0
for in_flight in 16 256; do
  for setup in lone-false lone-true cluster-false cluster-true; do
    run=$((run + 1))
    durable=${setup#*-}
    flags=(--durable="$durable" --grace=0s)
    kept="no"
    if [[ $setup == cluster-* ]]; then
      flags+=(--cluster_etcd="127.0.0.1:$etcd_port" --cluster_node_id=n1
              --cluster_name="kept$run" --cluster_lease_ttl=2s)
      [[ $durable == true ]] && kept="etcd (1-node cluster)"
    else
      [[ $durable == true ]] && kept="LevelDB (lone batond)"
    fi
    [[ $setup == cluster-false ]] && kept="no (1-node cluster)"
    start "$work/cd-$setup-$in_flight" "${flags[@]}"
    row=$("$loadgen" --scenario=count_down --target_addr="$addr" --sessions=4 \
          --in_flight="$in_flight" --duration=5s --server_pid="$pid" 2>/dev/null | tail -1)
    ops=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
    p99=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$8); print $8}')
    figure[$setup-$in_flight]=$ops
    echo "| $in_flight | $kept | $ops | $p99 |"
    stop
  done
done
echo
echo "| ratio (same run) | 4x16 | 4x256 |"
echo "| --- | ---: | ---: |"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo "| etcd / LevelDB | $(ratio "${figure[cluster-true-16]}" "${figure[lone-true-16]}") | $(ratio "${figure[cluster-true-256]}" "${figure[lone-true-256]}") |"
echo "| etcd / nothing kept (cluster) | $(ratio "${figure[cluster-true-16]}" "${figure[cluster-false-16]}") | $(ratio "${figure[cluster-true-256]}" "${figure[cluster-false-256]}") |"
echo "| LevelDB / nothing kept (lone) | $(ratio "${figure[lone-true-16]}" "${figure[lone-false-16]}") | $(ratio "${figure[lone-true-256]}" "${figure[lone-false-256]}") |"
