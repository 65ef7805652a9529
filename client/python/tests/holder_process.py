"""Helper for test_lease.py: holds a lock, says so, then waits to be killed."""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import baton  # noqa: E402


async def main(address: str, name: str) -> None:
    async with baton.connect(address, client_name="doomed") as client:
        lock = client.PriorityLock(name)
        await lock.acquire()
        print("held", flush=True)
        await asyncio.Event().wait()  # until SIGKILL


asyncio.run(main(sys.argv[1], sys.argv[2]))
