"""10,000 concurrent awaits on one client, and the coalescing of requests."""

from __future__ import annotations

import asyncio

import baton
from conftest import Batond

N = 10_000


async def test_ten_thousand_latch_waits(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        latch = client.MultiCountDownLatch(name, {"go": 1})
        await latch.declare()
        session = client._session_now
        assert session is not None
        sent_before = session.messages_sent
        tasks = [asyncio.create_task(latch.wait("go", timeout=30)) for _ in range(N)]
        await asyncio.sleep(0)  # every task sends its wait in this iteration
        assert (await latch.read()).waiter_count == N
        # Coalesced: 10,000 waits and a read in a few messages (500 a message).
        assert session.messages_sent - sent_before <= 2 * (N // 500) + 2
        await latch.count_down("go")
        await asyncio.wait_for(asyncio.gather(*tasks), 20)


async def test_ten_thousand_tasks_through_a_lock_and_a_semaphore(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        lock = client.PriorityLock(name)
        sem = client.DynamicBoundedSemaphore(name + "s", value=50)
        inside = 0
        peak = 0

        async def one(i: int) -> None:
            nonlocal inside, peak
            if i % 2:
                async with lock:
                    inside += 1
                    assert inside == 1
                    inside -= 1
            else:
                async with sem:
                    peak = max(peak, sem.permits)

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(N))), 25)
        assert peak <= 50
        state = await lock.read()
        assert not state.locked and state.waiter_count == 0
        assert (await sem.read()).available == 50
