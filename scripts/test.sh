#!/usr/bin/env bash
# Builds Baton and runs its tests. The README's test command.
#
#   scripts/test.sh            # g++ RelWithDebInfo build in build/, all tests
#   scripts/test.sh --asan     # AddressSanitizer + UBSan build in build-asan/
#   scripts/test.sh --tsa      # clang with -Wthread-safety (build only) in build-tsa/
#   scripts/test.sh -L unit    # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

mode=default
if [[ ${1:-} == --asan || ${1:-} == --tsa ]]; then mode=${1#--}; shift; fi

bash scripts/deps.sh

# Tests, benchmarks and examples on (scripts/run.sh turns them off in build/).
all=(-DBATON_BUILD_TESTS=ON -DBATON_BUILD_EXAMPLES=ON)
case $mode in
  default) dir=build; flags=(-DBATON_WERROR=ON -DBATON_BUILD_BENCH=ON "${all[@]}") ;;
  # -O1 -g1 under the sanitizers: the same findings (with file:line) for
  # about half the compile time of -O2 -g (CI builds this tree from scratch);
  # warnings are the -Werror of the default build's (same compiler, -O2).
  # The examples run in the default build only: they use the client
  # library as the CLI and the e2e tests do, which run here too.
  asan) dir=build-asan
        flags=(-DBATON_SANITIZE=ON -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_TESTS=ON
               -DBATON_BUILD_EXAMPLES=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG") ;;
  tsa) dir=build-tsa
       flags=(-DCMAKE_CXX_COMPILER=clang++ -DBATON_WERROR=ON -DBATON_THREAD_SAFETY=ON
              -DBATON_BUILD_BENCH=ON "${all[@]}") ;;
esac

cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
# Quiet when it builds; the compiler's errors when it does not.
if ! ninja -C "$dir" >"$dir/build.log" 2>&1; then
  grep -E -A8 "error|FAILED" "$dir/build.log" | head -120
  echo "build failed in $dir: the whole log is $dir/build.log" >&2
  exit 1
fi
if [[ $mode == tsa ]]; then
  echo "clang -Wthread-safety build: clean"
  exit 0
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" "$@"
# batond serves sessions on gRPC's callback API by default and on completion
# queues with --completion_queues=N (BATON_COMPLETION_QUEUES): the tests that
# start a batond run again on the second (in the default build; under the
# sanitizers once, to keep CI within its time).
if [[ $# -eq 0 && $mode == default ]]; then
  echo "again, with batond on completion queues (BATON_COMPLETION_QUEUES=2):"
  BATON_COMPLETION_QUEUES=2 ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" \
    -L 'integration|e2e'
fi
# The Python client (client/python), against the batond just built. Debian's
# /usr/bin/python3: its grpcio and protobuf come from python3-grpcio and
# python3-protobuf (scripts/deps.sh), which a pyenv python3 on PATH lacks.
if [[ $mode == default ]]; then
  echo "Python client tests (client/python/tests):"
  BATOND=$PWD/$dir/server/batond/batond /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    client/python/tests
fi
