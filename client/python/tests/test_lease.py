"""Lease loss: batond killed under a holder; a holder process killed."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

import baton
from conftest import HERE, Batond


async def test_batond_killed_every_holder_learns(own_batond: Batond, name: str) -> None:
    async with baton.connect(own_batond.address) as client:
        lock = client.RLock(name)
        sem = client.DynamicBoundedSemaphore(name + "s", value=1)
        await sem.acquire()
        other_lock = client.RLock(name)  # another task queues behind the holder
        entered = asyncio.Event()

        async def holder() -> None:
            async with lock:
                entered.set()
                # The body is not cancelled behind its back: it learns, and stops.
                reason = await lock.hold.wait_lost()  # type: ignore[union-attr]
                assert isinstance(reason, baton.LeaseLost)
            # The release of a lost hold was a quiet no-op.

        async def waiter() -> None:
            with pytest.raises(baton.LeaseLost):
                await other_lock.acquire()

        held = asyncio.create_task(holder())
        await entered.wait()
        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        own_batond.kill()
        await asyncio.wait_for(asyncio.gather(held, waiting), 10)
        await asyncio.wait_for(sem.lost.wait(), 10)
        assert not lock.locked() and not client.connected
        sem.release()  # quiet
        with pytest.raises(baton.Unavailable):  # the next call tries a new session
            await client.RLock(name).acquire(timeout=0)


async def test_killed_holder_process_lets_the_next_one_in(batond: Batond, name: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "holder_process.py"), batond.address, name,
        stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 15) == b"held\n"
        async with baton.connect(batond.address) as client:
            lock = client.PriorityLock(name)
            with pytest.raises(TimeoutError):
                await lock.acquire(timeout=0)
            waiting = asyncio.create_task(lock.acquire(timeout=15))
            await asyncio.sleep(0)
            proc.send_signal(signal.SIGKILL)
            assert await waiting  # the server saw the connection die
            assert lock.is_owner is False  # owned by the waiting task, not this one
            assert lock.owner is waiting
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_new_session_after_loss(own_batond: Batond, name: str, tmp_path) -> None:
    """After lease loss the client opens a new session for the next call."""
    async with baton.connect(own_batond.address, lease=1.0) as client:
        assert client.lease == 1.0
        first = client.session_id
        lock = client.PriorityLock(name)
        await lock.acquire()
        await client._session_now.close()  # type: ignore[union-attr]  # the session ends
        await asyncio.wait_for(lock.lost.wait(), 10)
        lock.release()
        await lock.acquire(timeout=5)  # a new session; the server released the old hold
        assert client.session_id != first and lock.fence is not None


async def test_heartbeats_keep_an_idle_session(own_batond: Batond, name: str) -> None:
    """Time itself is under test: 2.5 leases with nothing to send."""
    async with baton.connect(own_batond.address, lease=1.0) as client:
        lock = client.RLock(name)
        await lock.acquire()
        session = client.session_id
        await asyncio.sleep(2.5)
        assert client.session_id == session and not lock.lost.is_set()
        await lock.release()


async def test_lost_is_awaitable(batond: Batond, name: str) -> None:
    """hold.lost is an awaitable: `await hold.lost`, still an asyncio.Event."""
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        lock = a.PriorityLock(name)
        await lock.acquire()
        lost = lock.lost
        assert isinstance(lost, asyncio.Event) and not lost.is_set()
        waiter = asyncio.ensure_future(lost)  # an awaitable, not only lost.wait()
        await asyncio.sleep(0)
        assert not waiter.done()
        await a._session_now.close()  # type: ignore[union-attr]  # the session ends
        assert await asyncio.wait_for(waiter, 5) is True
        assert await lost and await lost.wait() and lock.hold.is_lost  # type: ignore[union-attr]
        holder = b.PrioritySemaphore(name + "s")
        await holder.acquire()
        b.PrioritySemaphore(name + "s").reset()
        assert await asyncio.wait_for(holder.lost, 5) is True
