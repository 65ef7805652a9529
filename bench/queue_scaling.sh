#!/usr/bin/env bash
# Runs bench/queue_scaling natively (ns per operation) and under callgrind
# (instructions per operation, exact and repeatable on a noisy machine).
#   bench/queue_scaling.sh [BUILD_DIR]      (default: build)
set -euo pipefail
build=${1:-build}
bin="$build/bench/queue_scaling"
[[ -x $bin ]] || { echo "build $bin first: ninja -C $build queue_scaling" >&2; exit 1; }

echo "### wall clock"
"$bin"

echo
echo "### callgrind: instructions per operation"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The first run is a heap warm-up at the largest size; its dumps are skipped.
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.%p" \
  "$bin" >/dev/null 2>"$out/log"
declare -A ir
for f in "$out"/cg.*; do
  phase=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
  total=$(sed -n 's/^totals: //p' "$f" | awk '{print $1}')
  [[ -n $phase ]] && ir[$phase]=$(( ${ir[$phase]:-0} + 0 )) && ir[$phase]=$total
done
ops() {  # operations per phase, as counted by queue_scaling.cc
  local n=$1 phase=$2
  case $phase in
    enqueue) echo "$n" ;;
    cancel-mid) echo $(( (n / 4) * 2 )) ;;
    cancel-rand) echo $(( (n - (n / 4) * 2) / 2 )) ;;
    grant) echo $(( n - (n / 4) * 2 - (n - (n / 4) * 2) / 2 )) ;;
  esac
}
echo "| waiters | enqueue Ir/op | cancel-mid Ir/op | cancel-rand Ir/op | grant Ir/op |"
echo "| ---: | ---: | ---: | ---: | ---: |"
for n in 1000 10000 100000; do
  row="| $n |"
  for phase in enqueue cancel-mid cancel-rand grant; do
    total=${ir[n$n-$phase]:-}
    if [[ -z $total ]]; then row+=" ? |"; continue; fi
    row+=" $(( total / $(ops "$n" "$phase") )) |"
  done
  echo "$row"
done
