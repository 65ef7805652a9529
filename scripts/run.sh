#!/usr/bin/env bash
# Installs what is needed (Debian 12), builds batond and starts it in the
# foreground. The README's run command. Arguments go to batond:
#   scripts/run.sh                        # 127.0.0.1:7070, one shard per core
#   scripts/run.sh --listen=0.0.0.0:7070 --shards=4
# Ctrl-C (SIGINT) or SIGTERM drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DBATON_WERROR=ON >/dev/null
ninja -C build batond >/dev/null
exec build/server/batond/batond "$@"
