"""DynamicBoundedSemaphore and PrioritySemaphore."""

from __future__ import annotations

import asyncio

import pytest

import baton
from conftest import Batond


async def test_dynamic_bounded_semaphore(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        sem_a, sem_b = a.DynamicBoundedSemaphore(name, value=2), b.DynamicBoundedSemaphore(name, 2)
        assert sem_a.bound == 2
        async with sem_a:
            await sem_a.acquire()
            assert sem_a.permits == 2 and sem_a.fence is not None
            assert (await sem_b.read()).locked and sem_b.locked()
            with pytest.raises(TimeoutError):
                await sem_b.acquire(timeout=0)
            waiter = asyncio.create_task(sem_b.acquire(timeout=10))
            await asyncio.sleep(0)
            assert (await sem_b.read()).waiter_count == 1
            sem_a.bound = 3  # the setter raises the bound in the background: wakes b
            assert await waiter
            assert sem_a.bound == 3
            await sem_a.set_bound(1)  # lowering takes nothing from holders
            state = await sem_a.read()
            assert state.available == -2 and state.held == 3 and sem_a.bound == 1
            sem_a.release()
        await sem_b.release()
        with pytest.raises(ValueError) as info:  # asyncio.BoundedSemaphore's error ...
            sem_a.release()
        assert isinstance(info.value, RuntimeError)  # ... and Baton's
        with pytest.raises(ValueError):
            await sem_a.set_bound(-1)
        with pytest.raises(ValueError):  # declare-if-absent: exists with another value
            await a.DynamicBoundedSemaphore(name, value=7).acquire()
        await a.DynamicBoundedSemaphore(name, value=1).declare()  # its live bound: fine


async def test_priority_semaphore_order_reset_and_non_strict(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        holder, sem = a.PrioritySemaphore(name, value=1), b.PrioritySemaphore(name, value=1)
        await holder.acquire()
        order: list[int] = []

        async def waiter(priority: int) -> None:
            await sem.acquire(priority=priority, timeout=10)
            order.append(priority)
            sem.release()

        tasks = [asyncio.create_task(waiter(p)) for p in (2, -1, 0)]
        await asyncio.sleep(0)
        assert (await sem.read()).waiter_count == 3
        holder.release()
        await asyncio.gather(*tasks)
        assert order == [-1, 0, 2]

        await holder.acquire()
        lost = holder.lost
        await sem.reset()  # revokes a's permit: its hold learns it
        await asyncio.wait_for(lost.wait(), 10)
        assert holder.hold is not None and isinstance(holder.hold.lost_reason, baton.Aborted)
        holder.release()  # lost: a quiet no-op
        with pytest.raises(RuntimeError):
            holder.release()
        await holder.release(strict=False)  # a new permit joins the pool
        state = await holder.read()
        assert state.pool == 2 and state.available == 2


async def test_semaphore_permits_belong_to_the_client(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        sem = client.DynamicBoundedSemaphore(name, value=1)
        await sem.acquire()

        async def other_task_releases() -> None:
            await sem.release()

        await asyncio.create_task(other_task_releases())
        assert not (await sem.read()).locked


async def test_priority_semaphore_reset_sends_without_await(batond: Batond, name: str) -> None:
    """The seed's reset() is synchronous: called without await it must still
    revoke; the returned future, if awaited, is the server's answer."""
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        holder, sem = a.PrioritySemaphore(name, value=1), b.PrioritySemaphore(name, value=1)
        await holder.acquire()
        await sem.declare()
        sem.reset()  # no await
        await asyncio.wait_for(holder.lost.wait(), 5)
        assert isinstance(holder.hold.lost_reason, baton.Aborted)  # type: ignore[union-attr]
        assert await sem.reset() is None
        fresh = b.PrioritySemaphore(name, value=1)
        done = fresh.reset()  # before any session work on this handle: sent once declared
        assert await asyncio.wait_for(done, 5) is None
        assert (await sem.read()).available == 1


@pytest.mark.parametrize("kind", ["DynamicBoundedSemaphore", "PrioritySemaphore"])
async def test_cancel_queued_acquire_withdraws_the_wait(batond: Batond, name: str, kind: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        holder, sem = getattr(a, kind)(name, value=1), getattr(b, kind)(name, value=1)
        await holder.acquire()
        task = asyncio.create_task(sem.acquire())
        await asyncio.sleep(0)
        assert (await sem.read()).waiter_count == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await sem.read()).waiter_count == 0  # the cancel went before the read
        assert sem.permits == 0
        holder.release()
        state = await holder.read()
        assert not state.locked and state.held == 0 and state.available == 1


@pytest.mark.parametrize("kind", ["DynamicBoundedSemaphore", "PrioritySemaphore"])
async def test_cancel_crossing_a_grant_gives_the_permit_back(batond: Batond, name: str,
                                                             kind: str) -> None:
    """Cancels a queued acquire at every step of the hand-over: whichever way
    the race goes, no permit stays held and nobody is queued."""
    async with baton.connect(batond.address) as client:
        sem = getattr(client, kind)(name, value=1)
        outcomes = set()

        async def waiter() -> None:
            await sem.acquire()
            sem.release()

        for steps in range(16):
            await sem.acquire()
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0)  # the waiter sends its acquire and queues
            sem.release()
            for _ in range(steps):  # event-loop steps, not time
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
                outcomes.add("granted")
            except asyncio.CancelledError:
                outcomes.add("cancelled")
            await sem.read()  # a crossing grant's give-back goes before the next read
            state = await sem.read()
            assert state.held == 0 and state.waiter_count == 0, (steps, state)
            assert sem.permits == 0
        assert "cancelled" in outcomes


async def test_bound_setter_keeps_call_order(batond: Batond, name: str) -> None:
    """db.bound = 8 then await db.set_bound(2): the later call wins."""
    async with baton.connect(batond.address) as client:
        db = client.DynamicBoundedSemaphore(name, value=4)
        await db.declare()
        db.bound = 8
        await db.set_bound(2)
        assert (await db.read()).bound == 2 and db.bound == 2
        fresh = client.DynamicBoundedSemaphore(name + "f", value=4)
        fresh.bound = 6  # before any session work on this handle: sent once declared
        assert (await fresh.read()).bound == 6
        pool = client.PrioritySemaphore(name + "p", value=3)
        pool.release(strict=False)  # before the declaration: queued behind it, not before
        state = await pool.read()
        assert state.pool == 4 and state.available == 4
