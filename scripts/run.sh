#!/usr/bin/env bash
# Installs what running needs (Debian 12), builds batond and starts it in
# the foreground. The README's run command. Arguments go to batond:
#   scripts/run.sh                        # 127.0.0.1:7070, one shard per core
#   scripts/run.sh --listen=0.0.0.0:7070 --shards=4
#   scripts/run.sh --help                 # every flag
# Ctrl-C (SIGINT) or SIGTERM drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --run
# Only the server: no tests, benchmarks or examples (scripts/test.sh turns
# them back on in the same build directory).
echo "run: configuring build/" >&2
cmake -S . -B build -G Ninja -DBATON_WERROR=ON -DBATON_BUILD_TESTS=OFF \
  -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_EXAMPLES=OFF >/dev/null
echo "run: building batond (a few minutes the first time)" >&2
# ninja shows its progress ([12/40] ...) on a terminal, and prints a line per
# step elsewhere; the compiler's errors when it fails.
if [[ -t 2 ]]; then
  ninja -C build batond >&2
else
  ninja -C build batond | grep -E '^\[[0-9]+/[0-9]+\]|error|FAILED' >&2 || true
  test -x build/server/batond/batond
fi
exec build/server/batond/batond "$@"
