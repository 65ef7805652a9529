"""KeyedCondition: wait/notify by key, notify_all counts, wait_for, wait_all."""

from __future__ import annotations

import asyncio
import gc

import pytest

import baton
from conftest import Batond


async def test_wait_notify_by_key_across_clients(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        cond_a, cond_b = a.KeyedCondition(name), b.KeyedCondition(name)
        woken: list[str] = []
        waiting = 0
        all_waiting = asyncio.Event()

        async def waiter(key: str) -> None:
            nonlocal waiting
            async with cond_a:
                waiting += 1
                if waiting == 3:
                    all_waiting.set()
                await cond_a.wait(key, timeout=10)  # sent before this task yields
                assert cond_a.is_owner  # the lock is held again
                woken.append(key)

        tasks = [asyncio.create_task(waiter(k)) for k in ("x", "x", "y")]
        await all_waiting.wait()
        # Session A's read goes after its three waits: the server has them.
        assert (await cond_a.read()).waiter_count == 3
        async with cond_b:
            assert await cond_b.notify("x") == 1
            assert await cond_b.notify_all("y") == 1
            assert await cond_b.notify_all() == 1  # the other "x"
            assert await cond_b.notify_all() == 0
        await asyncio.gather(*tasks)
        assert sorted(woken) == ["x", "x", "y"]


async def test_wait_timeout_comes_back_holding_the_lock(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        cond = client.KeyedCondition(name)
        async with cond:
            fence = cond.fence
            with pytest.raises(TimeoutError):
                await cond.wait("k", timeout=0.05)
            cond.assert_locked()
            assert cond.fence is not None and fence is not None and cond.fence > fence
        with pytest.raises(RuntimeError):
            cond.assert_locked()
        assert not (await cond.read()).locked


async def test_lock_rules(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        cond = client.KeyedCondition(name)
        with pytest.raises(RuntimeError):
            await cond.wait("k")
        with pytest.raises(RuntimeError):
            await cond.notify("k")
        with pytest.raises(RuntimeError):
            await cond.notify_all()
        async with cond:
            with pytest.raises(RuntimeError):  # not reentrant
                await cond.acquire()
            with pytest.raises(KeyError) as info:  # strict, nobody waits
                await cond.notify("nobody", strict=True)
            assert isinstance(info.value, baton.StrictMiss)
            with pytest.raises(ValueError):
                await cond.notify("k", n=0)
        assert not (await cond.read()).locked


async def test_wait_for_rechecks_the_predicate(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        results: dict[int, str] = {}
        cond_a, cond_b = a.KeyedCondition(name), b.KeyedCondition(name)

        checked = asyncio.Queue[None]()

        def ready() -> bool:  # called right before each wait is sent
            checked.put_nowait(None)
            return 42 in results

        async def consumer() -> str:
            async with cond_a:
                await cond_a.wait_for("job-42", ready, per_wait_timeout=10)
                return results[42]

        task = asyncio.create_task(consumer())
        for value in (None, "done"):  # a spurious wake-up first, then the result
            await checked.get()
            assert (await cond_a.read()).waiter_count == 1  # after the wait, on session A
            async with cond_b:
                if value is not None:
                    results[42] = value
                assert await cond_b.notify_all("job-42") == 1
        assert await task == "done"

        async with cond_a:
            with pytest.raises(TimeoutError):
                await cond_a.wait_for("never", lambda: False, per_wait_timeout=0.05)


async def test_wait_all_and_cancelled_wait(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        cond_a, cond_b = a.KeyedCondition(name), b.KeyedCondition(name)
        await cond_b.wait_all(timeout=0)  # nothing pending: at once
        entered = asyncio.Event()

        async def waiter() -> None:
            async with cond_a:
                entered.set()
                await cond_a.wait("k")  # sent before this task yields

        task = asyncio.create_task(waiter())
        await entered.wait()
        assert (await cond_a.read()).waiter_count == 1
        with pytest.raises(TimeoutError):
            await cond_b.wait_all(timeout=0.05)
        all_done = asyncio.create_task(cond_b.wait_all(timeout=10))
        task.cancel()  # the wait comes back holding the lock, then `async with` releases it
        with pytest.raises(asyncio.CancelledError):
            await task
        await all_done
        await cond_a.read()
        state = await cond_a.read()
        assert not state.locked and state.waiter_count == 0


async def test_notify_and_notify_all_send_without_await(batond: Batond, name: str) -> None:
    """The seed's notify/notify_all are synchronous: a call without await
    must wake the waiter; the returned future, if awaited, gives the count."""
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        cond_a, cond_b = a.KeyedCondition(name), b.KeyedCondition(name)
        waiting = asyncio.Event()

        async def waiter(key: str) -> str:
            async with cond_a:
                waiting.set()
                await cond_a.wait(key, timeout=10)  # sent before this task yields
                return key

        for notify in (lambda: cond_b.notify("x"), lambda: cond_b.notify_all("x")):
            waiting.clear()
            task = asyncio.create_task(waiter("x"))
            await waiting.wait()
            assert (await cond_a.read()).waiter_count == 1
            async with cond_b:
                notify()  # no await: sent at once, like the seed's
            assert await asyncio.wait_for(task, 5) == "x"

        async with cond_b:
            counted = cond_b.notify_all()
            assert isinstance(counted, asyncio.Future) and await counted == 0
            missed = cond_b.notify("nobody", strict=True)
            with pytest.raises(KeyError):
                await missed


async def test_unawaited_notify_error_is_logged_success_is_quiet(batond: Batond, name: str) -> None:
    """A notify nobody awaits: its success says nothing; its error reaches
    the loop's exception handler (as any failed, dropped future)."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    async with baton.connect(batond.address) as client:
        cond = client.KeyedCondition(name)
        async with cond:
            cond.notify("nobody")
            cond.notify_all()
            await cond.read()  # answered after both
            gc.collect()
            assert reported == []
            cond.notify("nobody", strict=True)
            await cond.read()
            gc.collect()
    assert len(reported) == 1 and isinstance(reported[0]["exception"], baton.StrictMiss)


async def test_notify_checks_the_lock_at_once(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        cond = client.KeyedCondition(name)
        with pytest.raises(RuntimeError):
            cond.notify("k")  # raised by the call itself, as asyncio.Condition does
        with pytest.raises(RuntimeError):
            cond.notify_all()
        async with cond:
            with pytest.raises(ValueError):
                cond.notify("k", n=0)


async def test_wait_for_takes_the_seeds_parameter_names(batond: Batond, name: str) -> None:
    """The seed: wait_for(key, pred, per_wait_timeout)."""
    async with baton.connect(batond.address) as client:
        cond = client.KeyedCondition(name)
        async with cond:
            await cond.wait_for("k", pred=lambda: True, per_wait_timeout=1)
            await cond.wait_for(key="k", pred=lambda: True)
            await cond.wait_for("k", predicate=lambda: True)  # the older name still works
            with pytest.raises(TimeoutError):
                await cond.wait_for("k", pred=lambda: False, per_wait_timeout=0.01)
            with pytest.raises(TypeError):
                await cond.wait_for("k")


async def test_keys_must_be_str(batond: Batond, name: str) -> None:
    """The seed takes any hashable key; the wire takes text: a clear TypeError."""
    async with baton.connect(batond.address) as client:
        cond = client.KeyedCondition(name)
        latch = client.MultiCountDownLatch(name + "l", {"a": 1})
        async with cond:
            for call in (lambda: cond.wait(1), lambda: cond.wait_for(1, lambda: False),
                         lambda: cond.notify(1), lambda: cond.notify_all(("a", 1)),
                         lambda: latch.count_down(1), lambda: latch.wait(b"a")):
                with pytest.raises(TypeError, match=r"\(key\): must be a str"):
                    await call()
            cond.assert_locked()
        with pytest.raises(TypeError, match="must be a str"):
            client.MultiCountDownLatch(name + "m", {1: 1})  # type: ignore[dict-item]
        assert dict((await latch.read()).counts) == {"a": 1}
