# Sourced by the benchmark scripts (bench/run_all.sh, bench/run_comparison.sh,
# bench/scale/run_scale.sh): one way to get their binaries.
#
#   bench_build NAME BUILD_DIR ROOT TARGET...
#
# Builds TARGET... Release in BUILD_DIR (tests and examples off), quietly;
# with BATON_BENCH_PREBUILT=1 it builds nothing and uses the binaries there
# as they are (CI's smoke: the test build's binaries; it checks that the
# harness works, not how fast). NAME prefixes the progress line on stderr.
bench_build() {
  local name=$1 build=$2 root=$3
  shift 3
  if [[ ${BATON_BENCH_PREBUILT:-0} == 1 ]]; then
    echo "$name: using the binaries in $build" >&2
    return 0
  fi
  echo "$name: building in $build" >&2
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBATON_BUILD_TESTS=OFF \
    -DBATON_BUILD_EXAMPLES=OFF >/dev/null
  ninja -C "$build" "$@" >/dev/null
}
