"""RLock, PriorityLock, PriorityRLock: exclusion, reentrancy, priority, timeouts."""

from __future__ import annotations

import asyncio
import time

import pytest

import baton
from conftest import Batond


async def test_rlock_reentrant_per_task_and_exclusive_between_tasks(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        lock = client.RLock(name)
        assert not lock.locked() and not lock.is_owner and lock.owner is None
        async with lock:
            assert await lock.acquire() is True  # re-entry by the same task
            assert lock.hold is not None and lock.hold.depth == 2
            assert lock.is_owner and lock.owner is asyncio.current_task()
            assert lock.locked() and lock.fence is not None

            async def other() -> None:  # another task is another owner
                assert not lock.is_owner
                with pytest.raises(TimeoutError):
                    await lock.acquire(timeout=0)

            await asyncio.create_task(other())
            lock.release()
            state = await lock.read()
            assert state.locked and state.is_owner and state.owner.count == 1
        state = await lock.read()
        assert not state.locked and not lock.is_owner and not lock.locked()


async def test_release_not_held_raises_runtime_error(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        for lock in (client.RLock(name + "r"), client.PriorityLock(name + "p"),
                     client.PriorityRLock(name + "pr"), client.KeyedCondition(name + "c")):
            with pytest.raises(RuntimeError):
                lock.release()
            with pytest.raises(RuntimeError):
                _ = lock.lost


async def test_priority_lock_not_reentrant(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        lock = client.PriorityLock(name)
        async with lock:
            with pytest.raises(RuntimeError, match="(?i)deadlock|already"):
                await lock.acquire()
        assert not (await lock.read()).locked


async def test_mutual_exclusion_across_two_clients(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address, client_name="a") as a, \
            baton.connect(batond.address, client_name="b") as b:
        inside = 0
        entries = 0

        async def worker(client: baton.Client) -> None:
            nonlocal inside, entries
            lock = client.PriorityLock(name)
            for _ in range(20):
                async with lock:
                    inside += 1
                    assert inside == 1
                    entries += 1
                    await asyncio.sleep(0)  # let the others run while held
                    await asyncio.sleep(0)
                    inside -= 1

        await asyncio.gather(*(worker(c) for c in (a, b) for _ in range(3)))
        assert entries == 120
        lock_a = a.PriorityLock(name)
        await lock_a.acquire()
        with pytest.raises(TimeoutError):
            await b.PriorityLock(name).acquire(timeout=0)
        waiter = asyncio.create_task(b.PriorityLock(name).acquire(timeout=10))
        lock_a.release()
        assert await waiter


async def test_priority_order_lower_first(batond: Batond, name: str) -> None:
    for make in ("PriorityLock", "PriorityRLock"):
        async with baton.connect(batond.address) as holder_client, \
                baton.connect(batond.address) as client:
            holder = getattr(holder_client, make)(name + make)
            await holder.acquire()
            lock = getattr(client, make)(name + make)
            order: list[int] = []

            async def waiter(priority: int) -> None:
                await lock.acquire(priority=priority, timeout=10)
                order.append(priority)
                lock.release()

            tasks = [asyncio.create_task(waiter(p)) for p in (5, 0, -3, 0, 7, -10)]
            await asyncio.sleep(0)  # let each task send its acquire (no time passes)
            assert (await lock.read()).waiter_count == 6  # same session: read after them
            holder.release()
            await asyncio.gather(*tasks)
            assert order == [-10, -3, 0, 0, 5, 7]


async def test_timeout_raises_timeout_error(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        await a.RLock(name).acquire()
        start = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            await b.RLock(name).acquire(timeout=0.2)
        assert isinstance(info.value, baton.WaitTimeout)
        assert time.monotonic() - start >= 0.15
        assert (await b.RLock(name).read()).waiter_count == 0
        with pytest.raises(ValueError):
            await b.RLock(name).acquire(timeout=-1)


async def test_priority_rejected_by_fifo_kind_and_bad_name(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        with pytest.raises(ValueError, match="name"):
            await client.RLock("a//b").acquire()
        with pytest.raises(ValueError, match="priority"):
            await client.PrioritySemaphore(name + "s").acquire(priority=1.5)  # type: ignore[arg-type]
        await client.RLock(name).read()
        with pytest.raises(RuntimeError) as info:  # wrong kind for the name
            await client.PriorityLock(name).acquire()
        assert isinstance(info.value, baton.BatonError)
        assert info.value.code.name == "FAILED_PRECONDITION"


async def test_cancel_withdraws_the_wait(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        held = a.PriorityLock(name)
        await held.acquire()
        lock = b.PriorityLock(name)
        task = asyncio.create_task(lock.acquire())
        await asyncio.sleep(0)
        assert (await lock.read()).waiter_count == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await lock.read()).waiter_count == 0  # the cancel went before the read
        held.release()
        state = await held.read()
        assert not state.locked


async def test_cancel_crossing_a_grant_gives_it_back(batond: Batond, name: str) -> None:
    """Cancels a waiter at every step of the hand-over (before the cancel
    reaches the server, as the grant crosses it, after the answer arrived but
    before the task resumed): whichever way the race goes, the lock ends up
    free and nobody is queued."""
    async with baton.connect(batond.address) as client:
        lock = client.PriorityLock(name)
        outcomes = set()

        async def waiter() -> None:
            await lock.acquire()
            lock.release()

        for steps in range(16):
            await lock.acquire()
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0)  # the waiter sends its acquire
            lock.release()
            for _ in range(steps):  # event-loop steps, not time
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
                outcomes.add("granted")
            except asyncio.CancelledError:
                outcomes.add("cancelled")
            # A grant that crossed the cancel is answered before this read
            # (answers come in the order decided), so its give-back is sent
            # before the next read, which must then find the lock free.
            await lock.read()
            state = await lock.read()
            assert not state.locked and state.waiter_count == 0, (steps, state)
        assert "cancelled" in outcomes


async def test_priority_rlock_reentry_keeps_fence(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        lock = client.PriorityRLock(name)
        await lock.acquire(priority=3)
        fence = lock.fence
        await lock.acquire(priority=-5)
        assert lock.fence == fence and lock.hold is not None and lock.hold.depth == 2
        lock.release()
        await lock.release()
        assert not lock.is_owner and not (await lock.read()).locked
