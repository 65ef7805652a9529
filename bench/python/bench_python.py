#!/usr/bin/python3
"""bench_python: Baton's Python client against redis-py, decisions per second.

Starts a batond and a redis-server on free loopback ports, then measures, from
one Python process and event loop with --concurrency tasks each in a closed
loop, for --seconds each (after --warmup seconds):

  lock        one op = an uncontended acquire and its release, both awaited.
              Baton: a PriorityLock per task (client.PriorityLock(name)),
              `await lock.acquire()` then `await lock.release()`, every task
              on the client's one Session stream (requests of the same loop
              iteration batched into one message).
              Redis: `SET key token NX PX 10000` then `DEL key`, a key per task.
  rate limit  one op = one try-once rate-limit decision (a refusal counts).
              Baton: AdvancedRateLimit(rate=1e9, capacity=1e9) on one name,
              `await limit.acquire(timeout=0)`.
              Redis: the token bucket in Lua of bench/peers/redis_bench.cc,
              SCRIPT LOAD once, then EVALSHA on one key, same rate and capacity.

redis-py's asyncio client gets a pool of --concurrency connections (what a
redis-py user does with that many tasks: it has no multiplexing); Baton's
client uses one stream. Prints a Markdown table.

  /usr/bin/python3 bench/python/bench_python.py [--batond PATH] [--seconds 10]
      [--concurrency 64]

Needs Debian's python3-grpcio, python3-protobuf, python3-redis, redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "client" / "python"))

import baton  # noqa: E402
import redis  # noqa: E402
import redis.asyncio  # noqa: E402

# The token bucket of bench/peers/redis_bench.cc (kRateScript), verbatim.
RATE_SCRIPT = """
-- KEYS[1]: the bucket. ARGV[1]: refill rate, tokens per second.
-- ARGV[2]: capacity. Returns {allowed (0 or 1), retry_after_us}.
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate / 1000000)
local allowed = 0
local retry_after_us = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after_us = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, retry_after_us}
"""

RATE = 1e9  # never reached: every decision takes the grant path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_batond(path: str, data_dir: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([path, "--listen=127.0.0.1:0", f"--data_dir={data_dir}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"listening on (\S+:\d+)", line)
            if m and not found:
                found.append(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(10) or not found:
        proc.kill()
        sys.exit("bench_python: batond did not start")
    return proc, found[0]


def start_redis(port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("bench_python: redis-server missing (apt-get install redis-server)")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:  # redis-server prints nothing we can wait on when quiet
        try:
            r.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                sys.exit("bench_python: redis-server did not start")
            time.sleep(0.05)


async def run_closed_loop(concurrency: int, warmup: float, seconds: float,
                          make_op: Callable[[int], Callable[[], Awaitable[None]]]
                          ) -> tuple[float, float, float]:
    """Runs `concurrency` loops of op; returns ops/s, p50 and p99 in µs."""
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start, window_end = start + warmup, start + warmup + seconds

    async def worker(i: int) -> None:
        op = make_op(i)
        while True:
            t0 = loop.time()
            if t0 >= window_end:
                return
            await op()
            t1 = loop.time()
            if window_start <= t0 and t1 < window_end:
                latencies.append(t1 - t0)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    q = statistics.quantiles(latencies, n=100)
    return len(latencies) / seconds, q[49] * 1e6, q[98] * 1e6


async def bench(args: argparse.Namespace, batond_address: str, redis_port: int) -> list[str]:
    rows = []
    tag = uuid.uuid4().hex[:6]
    c = args.concurrency

    async with baton.connect(batond_address, client_name="bench_python") as client:
        def baton_lock(i: int) -> Callable[[], Awaitable[None]]:
            lock = client.PriorityLock(f"bench/py/{tag}/lock/{i}")

            async def op() -> None:
                await lock.acquire()
                await lock.release()
            return op

        rows.append(("lock acquire+release", "Baton (Python client, one stream)",
                     await run_closed_loop(c, args.warmup, args.seconds, baton_lock)))

        limit = client.AdvancedRateLimit(f"bench/py/{tag}/rate", rate=RATE, capacity=RATE)
        await limit.declare()

        def baton_rate(i: int) -> Callable[[], Awaitable[None]]:
            async def op() -> None:
                try:
                    await limit.acquire(timeout=0)
                except TimeoutError:
                    pass
            return op

        rows.append(("rate-limit decision", "Baton (Python client, one stream)",
                     await run_closed_loop(c, args.warmup, args.seconds, baton_rate)))

    r = redis.asyncio.Redis(host="127.0.0.1", port=redis_port, max_connections=c)
    try:
        def redis_lock(i: int) -> Callable[[], Awaitable[None]]:
            key = f"bench:py:{tag}:lock:{i}"
            token = f"{os.getpid()}-{i}"

            async def op() -> None:
                if not await r.set(key, token, nx=True, px=10000):
                    raise RuntimeError("uncontended Redis lock was taken")
                await r.delete(key)
            return op

        rows.append(("lock acquire+release", f"redis-py (asyncio, {c} connections)",
                     await run_closed_loop(c, args.warmup, args.seconds, redis_lock)))

        sha = await r.script_load(RATE_SCRIPT)
        key = f"bench:py:{tag}:rate"

        def redis_rate(i: int) -> Callable[[], Awaitable[None]]:
            async def op() -> None:
                await r.evalsha(sha, 1, key, str(RATE), str(RATE))
            return op

        rows.append(("rate-limit decision", f"redis-py (asyncio, {c} connections)",
                     await run_closed_loop(c, args.warmup, args.seconds, redis_rate)))
    finally:
        await r.close()

    out = ["| operation | client | tasks | ops/s | p50 µs | p99 µs |",
           "| --- | --- | ---: | ---: | ---: | ---: |"]
    for op, who, (rate, p50, p99) in rows:
        out.append(f"| {op} | {who} | {c} | {rate:,.0f} | {p50:,.0f} | {p99:,.0f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_batond = os.environ.get("BATOND", str(REPO / "build" / "server" / "batond" / "batond"))
    parser.add_argument("--batond", default=default_batond)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64, help="tasks in closed loops")
    args = parser.parse_args()
    if not Path(args.batond).exists():
        sys.exit(f"bench_python: no batond at {args.batond} (--batond or BATOND)")

    with tempfile.TemporaryDirectory(prefix="bench_python.") as tmp:
        batond_proc, address = start_batond(args.batond, os.path.join(tmp, "data"))
        redis_port = free_port()
        redis_proc = start_redis(redis_port)
        try:
            table = asyncio.run(bench(args, address, redis_port))
        finally:
            for proc in (batond_proc, redis_proc):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                   text=True).stdout.split()[2].removeprefix("v=")
    print(f"Python {sys.version.split()[0]}, grpcio {baton._session.grpc.__version__}, "
          f"redis-py {redis.__version__}, redis-server {redis_version}; "
          f"{args.seconds:g} s per row after {args.warmup:g} s warm-up; one process, one loop.")
    print()
    print("\n".join(table))


if __name__ == "__main__":
    main()
