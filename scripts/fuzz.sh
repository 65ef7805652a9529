#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz/, and runs each for its share of a bounded time; fails on any
# finding (a crash, a sanitizer report, a broken invariant, a timeout).
#
#   scripts/fuzz.sh            # 60 s in all, split evenly between the harnesses
#   scripts/fuzz.sh 600        # ten minutes in all
#   scripts/fuzz.sh --seeds    # rewrite tests/fuzz/corpus/ (make_seeds.cc), no run
#
# Each harness starts from its seeds (tests/fuzz/corpus/NAME/, read only)
# and from what earlier runs here found (build-fuzz/corpus/NAME/, which
# grows). A finding is saved as build-fuzz/findings/NAME-crash-...: replay
# it with build-fuzz/tests/fuzz/NAME FILE. A new harness is one
# baton_fuzzer() line in tests/fuzz/CMakeLists.txt: this script runs every
# harness listed there.
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=0
total=60
case ${1:-} in
  --seeds) seeds=1 ;;
  "") ;;
  *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS | --seeds]" >&2; exit 2 ;;
  *) total=$1 ;;
esac

bash scripts/deps.sh

dir=build-fuzz
start=$SECONDS
# The harnesses and what they link, plus batond and the baton CLI, all with
# clang's -Wthread-safety as an error: this one clang build is also CI's
# thread-safety check of every annotated production file (server/, client/),
# so CI compiles Baton with clang once, not twice (scripts/test.sh --tsa
# still checks tests, benchmarks and examples too).
# -O1 -g1: libFuzzer's usual optimization, and line tables for the
# findings' stacks, at about half the compile time of -O2 -g.
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DBATON_FUZZ=ON \
  -DBATON_WERROR=ON -DBATON_THREAD_SAFETY=ON -DBATON_BUILD_TESTS=OFF \
  -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_EXAMPLES=OFF \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >/dev/null
if ! ninja -C "$dir" baton_fuzzers batond baton >"$dir/build.log" 2>&1; then
  grep -E -A8 "error|FAILED" "$dir/build.log" | head -120
  echo "build failed in $dir: the whole log is $dir/build.log" >&2
  exit 1
fi
echo "fuzz build (clang -Wthread-safety clean): $((SECONDS - start)) s"

if ((seeds)); then
  "$dir/tests/fuzz/make_seeds" tests/fuzz/corpus
  echo "seeds written to tests/fuzz/corpus/"
  exit 0
fi

mapfile -t fuzzers < "$dir/tests/fuzz/fuzzers.txt"
each=$((total / ${#fuzzers[@]}))
((each >= 1)) || each=1
mkdir -p "$dir/findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for f in "${fuzzers[@]}"; do
  mkdir -p "$dir/corpus/$f"
  args=(-max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/findings/$f-")
  [[ -f tests/fuzz/$f.dict ]] && args+=(-dict="tests/fuzz/$f.dict")
  log=$dir/$f.log
  if "$dir/tests/fuzz/$f" "${args[@]}" "$dir/corpus/$f" "tests/fuzz/corpus/$f" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
    echo "$f: ${execs:-?} execs in ${each} s (${rate:-?}/s), coverage ${cov:-?} edges, no finding"
  else
    echo "$f: FINDING (the log: $log; the input: $dir/findings/$f-*)" >&2
    grep -E -m1 -A30 "ERROR: |runtime error|fuzz invariant broken|deadly signal" "$log" >&2 || tail -40 "$log" >&2
    failed+=("$f")
  fi
done
echo "fuzzing: $((SECONDS - start)) s in all"
if ((${#failed[@]} > 0)); then
  echo "fuzzers with findings: ${failed[*]}" >&2
  exit 1
fi
