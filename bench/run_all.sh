#!/usr/bin/env bash
# The whole performance comparison in one command: Baton against the bare gRPC echo
# (both variants), Redis and etcd (bench/run_comparison.sh, which runs
# bench/peers/run_peers.sh), then the scale and memory rows
# (bench/scale/run_scale.sh), Envoy's rate limit on batond against Redis
# (bench/rls/run_rls.sh, where hiredis is installed); then the performance
# targets computed from the rows (bench/targets.awk), each echo
# target against the faster echo server of its case, with the ratios
# Baton/echo, Baton/Redis, Baton/etcd.
#
#   bench/run_all.sh [--smoke] [--results FILE]
#
# Without --smoke the report replaces the generated section of
# bench/RESULTS.md (between the run_all:begin and run_all:end markers, right
# after the file's introduction; inserted there when the file has none) and
# leaves the rest of the file as it is. --smoke runs every scenario briefly
# and prints the report on stdout; it touches no file unless --results is
# given. --results FILE writes the section into FILE instead (created if
# missing); --results - prints it on stdout.
#
# It builds Release in build-bench/ once (BATON_BENCH_BUILD overrides; with
# BATON_BENCH_PREBUILT=1 it uses the binaries there as they are, as CI does),
# then runs the two scripts one after the other, never at the same time.
# Once built, a full run takes about 7-8 minutes on the 2-core machine
# (comparison about 4.5, peers included; scale about 3; rls about 0.3);
# --smoke about 50 s.
# Progress goes to stderr. Exit status 1 when any run failed: the report is
# still written, with the failure said in it and the missing rows "not
# measured".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BATON_BENCH_BUILD:-$root/build-bench}
smoke=0
results=""
results_given=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
args=("$@")
while (( $# )); do
  case $1 in
    --smoke) smoke=1 ;;
    --results) [[ $# -ge 2 ]] || { echo "run_all.sh: --results needs a file" >&2; exit 2; }
               results=$2; results_given=1; shift ;;
    --results=*) results=${1#--results=}; results_given=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown argument $1 (usage: bench/run_all.sh [--smoke] [--results FILE])" >&2
       exit 2 ;;
  esac
  shift
done
[[ $results_given == 0 || -n $results ]] || { echo "run_all.sh: --results needs a file" >&2; exit 2; }
if (( ! results_given )); then
  if (( smoke )); then results=-; else results=$root/bench/RESULTS.md; fi
fi
command_line="bench/run_all.sh${args[*]:+ ${args[*]}}"
smoke_flag=()
(( smoke )) && smoke_flag=(--smoke)

start=$SECONDS
# shellcheck source=bench/common/build.sh
source "$root/bench/common/build.sh"
bench_build run_all "$build" "$root" batond baton_echo_server baton_loadgen baton_scale_bench
# bench/peers is built only where hiredis is installed; run_peers.sh
# installs it and builds what is missing.
if [[ ${BATON_BENCH_PREBUILT:-0} != 1 ]] &&
    ninja -C "$build" -t targets all 2>/dev/null | grep -q '^redis_bench:'; then
  ninja -C "$build" redis_bench etcd_bench rls_bench >/dev/null
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
compiler_version=$("${compiler:-c++}" --version 2>/dev/null | head -n1 || true)
built=$SECONDS

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
failures=()

echo "run_all: comparison (bench/run_comparison.sh ${smoke_flag[*]})" >&2
BATON_BENCH_BUILD=$build BATON_BENCH_PREBUILT=1 \
  "$root/bench/run_comparison.sh" "${smoke_flag[@]}" "$tmp/comparison.md" ||
  failures+=("bench/run_comparison.sh (exit $?)")
comparison_done=$SECONDS
echo "run_all: scale (bench/scale/run_scale.sh ${smoke_flag[*]})" >&2
BATON_BENCH_BUILD=$build BATON_BENCH_PREBUILT=1 \
  "$root/bench/scale/run_scale.sh" "${smoke_flag[@]}" "$tmp/scale.md" ||
  failures+=("bench/scale/run_scale.sh (exit $?)")
scale_done=$SECONDS
# Envoy's rate limit, batond against envoyproxy/ratelimit's Redis commands
# (built, like bench/peers, only where hiredis is installed: run_peers.sh,
# which runs first, installs it; run_rls.sh then builds rls_bench).
if [[ -x $build/bench/rls/rls_bench ]] || pkg-config --exists hiredis 2>/dev/null; then
  echo "run_all: rls (bench/rls/run_rls.sh ${smoke_flag[*]})" >&2
  BATON_BENCH_BUILD=$build BATON_BENCH_PREBUILT=1 \
    "$root/bench/rls/run_rls.sh" "${smoke_flag[@]}" >"$tmp/rls.md" ||
    failures+=("bench/rls/run_rls.sh (exit $?)")
else
  echo "run_all: rls skipped (no $build/bench/rls/rls_bench: libhiredis-dev?)" >&2
  echo "Not measured (rls_bench not built: libhiredis-dev missing)." >"$tmp/rls.md"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
touch "$tmp/comparison.md" "$tmp/scale.md"

# section FILE HEADING: the lines under "### HEADING", up to the next "### ".
section() {
  awk -v h="### $2" '$0 == h { on = 1; next } /^### / { on = 0 } on' "$1"
}
# bullets FILE: the report's list of how it was measured (before its first
# table or "###"), without what the run's own list already says (and the
# command, which names our temporary file).
bullets() {
  awk '/^### |^\| / { exit } /^- / && !/^- (date|commit|machine|command):/' "$1"
}
# The rows the targets are computed from.
section "$tmp/comparison.md" "Throughput, latency, server CPU" |
  grep '^| ' | grep -v '^| scenario |' | grep -v '^| ---' >"$tmp/rows.md" || true
grep '^| ' "$tmp/scale.md" | grep -v '^| measure |' | grep -v '^| ---' >"$tmp/scale-rows.md" || true

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$root" diff --quiet HEAD 2>/dev/null || dirty=" (with uncommitted changes)"
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
memory=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
if (( smoke )); then kind=" (smoke: every scenario briefly, at low concurrency and 1/100 of the scale counts; not for reading)"; else kind=""; fi

report() {
  echo "<!-- run_all:begin · generated by bench/run_all.sh, replaced on each run: edit the script, not this section -->"
  echo "## Latest run of \`bench/run_all.sh\`: $(date -u +%Y-%m-%d) · commit $commit$kind"
  echo
  echo "- date: $(date -u)"
  echo "- commit: $commit$dirty"
  echo "- machine: $(nproc) cores, ${cpu_model:-unknown CPU}, $memory, $(uname -sr)"
  echo "- build: ${build#"$root"/} (${build_type:-unknown build type}, ${compiler_version:-unknown compiler})"
  echo "- load average (1, 5, 15 min): $load_before before the runs, $load_after after"
  echo "- command: \`$command_line\` ($((SECONDS - start)) s: build $((built - start)) s, comparison and peers $((comparison_done - built)) s, scale $((scale_done - comparison_done)) s)"
  if (( ${#failures[@]} )); then
    local failed="" f
    for f in "${failures[@]}"; do failed+="${failed:+, }$f"; done
    echo "- **FAILED: $failed**: the rows of the failed runs are missing (\"not measured\" below); see the command's stderr"
  else
    echo "- every run succeeded"
  fi
  echo "- baseline: for each case, the faster (more messages/s at that sessions x in flight) of the two bare gRPC echo servers, echo-cb (the callback API, which batond uses by default) and echo-cq (the completion-queue API); the other is shown beside it"
  echo
  echo "Noisy machine: the load generator shares the 2 cores with the server (and whatever else runs); compare ratios within one run, and prefer server CPU per op to ops/s."
  echo
  echo "### Where Baton stands against its performance targets"
  echo
  awk -f "$root/bench/targets.awk" "$tmp/rows.md" "$tmp/scale-rows.md"
  echo
  echo "### Baton / echo"
  echo
  section "$tmp/comparison.md" "Baton / echo" | sed '/./,$!d'
  echo
  echo "### Throughput, latency, server CPU"
  echo
  "$build/bench/loadgen/baton_loadgen" --header 2>/dev/null ||
    printf '%s\n' "| scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server CPU s per 1M ops |" \
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  cat "$tmp/rows.md"
  echo
  echo "### Scale and memory"
  echo
  if [[ -s $tmp/scale-rows.md ]]; then
    awk '/^\| / { on = 1 } on' "$tmp/scale.md"
  else
    echo "Not measured (bench/scale/run_scale.sh failed)."
  fi
  echo
  echo "### Envoy rate limit: batond against envoyproxy/ratelimit's Redis commands"
  echo
  awk '/^\| / { on = 1 } on' "$tmp/rls.md"
  grep -q '^| ' "$tmp/rls.md" || echo "Not measured (bench/rls/run_rls.sh failed or skipped)."
  echo
  echo "### How the rows were measured"
  echo
  echo "Comparison: \`bench/run_comparison.sh${smoke_flag[*]:+ ${smoke_flag[*]}}\` (peers: \`bench/peers/run_peers.sh\`, same windows and concurrencies, 1x1 aside)"
  echo
  bullets "$tmp/comparison.md"
  echo
  echo "Scale: \`bench/scale/run_scale.sh${smoke_flag[*]:+ ${smoke_flag[*]}}\`"
  echo
  bullets "$tmp/scale.md"
  echo
  echo "Envoy rate limit: \`bench/rls/run_rls.sh${smoke_flag[*]:+ ${smoke_flag[*]}}\`"
  echo
  bullets "$tmp/rls.md"
  echo "<!-- run_all:end -->"
}
report >"$tmp/section.md"

# splice RESULTS SECTION: replaces the marked section of RESULTS, or puts it
# before the first "## " heading (after the introduction), or at the end.
splice() {
  local file=$1 section=$2 out
  out=$(mktemp "$(dirname "$file")/.run_all.XXXXXX")
  if [[ ! -e $file ]]; then
    cp "$section" "$out"
  elif grep -q '^<!-- run_all:begin' "$file"; then
    grep -q '^<!-- run_all:end -->' "$file" ||
      { rm -f "$out"; echo "run_all.sh: $file has run_all:begin but no run_all:end" >&2; exit 1; }
    awk -v section="$section" '
      /^<!-- run_all:begin/ { while ((getline line < section) > 0) print line; skip = 1; next }
      skip && /^<!-- run_all:end -->/ { skip = 0; next }
      !skip' "$file" >"$out"
  else
    awk -v section="$section" '
      !done && /^## / { while ((getline line < section) > 0) print line; print ""; done = 1 }
      { print }
      END { if (!done) { print ""; while ((getline line < section) > 0) print line } }' "$file" >"$out"
  fi
  chmod --reference="$file" "$out" 2>/dev/null || chmod 644 "$out"
  mv "$out" "$file"
}

if [[ $results == - ]]; then
  cat "$tmp/section.md"
else
  splice "$results" "$tmp/section.md"
  echo "run_all: wrote the generated section of $results" >&2
fi
echo "run_all: done in $((SECONDS - start)) s" >&2
(( ${#failures[@]} == 0 ))
