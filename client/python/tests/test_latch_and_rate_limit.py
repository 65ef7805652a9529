"""MultiCountDownLatch and AdvancedRateLimit."""

from __future__ import annotations

import asyncio
import time

import pytest

import baton
from conftest import Batond


async def test_latch(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as a, baton.connect(batond.address) as b:
        latch = a.MultiCountDownLatch(name, {"db": 1, "cache": 2})
        other = b.MultiCountDownLatch(name, {"db": 1, "cache": 2})
        assert not latch.broken
        db = asyncio.create_task(latch.wait("db", timeout=10))
        everything = asyncio.create_task(latch.wait_all(timeout=10))
        await asyncio.sleep(0)
        assert (await latch.read()).waiter_count == 2
        with pytest.raises(TimeoutError):
            await latch.wait("cache", timeout=0)
        await other.count_down("db")
        await db
        await other.count_down_all()
        assert not everything.done()
        await other.count_down("cache")
        await everything
        assert latch.broken and latch.counts == {"db": 0, "cache": 0} or latch.broken
        await latch.wait("unknown")  # not strict: nothing to wait for
        with pytest.raises(KeyError) as info:
            await latch.wait("unknown", strict=True)
        assert isinstance(info.value, baton.NotFound)
        with pytest.raises(KeyError):
            await latch.count_down("unknown", strict=True)
        with pytest.raises(RuntimeError):
            await latch.count_down("db", strict=True)  # finished
        state = await latch.read()
        assert state.broken and dict(state.counts) == {"db": 0, "cache": 0}
        with pytest.raises(ValueError):  # exists with other counts
            await b.MultiCountDownLatch(name, {"db": 5}).wait_all(timeout=0)
        with pytest.raises(ValueError):
            b.MultiCountDownLatch(name + "x", {"db": -1})


async def test_rate_limit(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        limit = client.AdvancedRateLimit(name, rate=20, capacity=2)
        assert limit.rate == 20 and limit.capacity == 2 and limit.fair
        async with limit:
            pass  # its token goes back on exit
        await limit.acquire(tokens=2)
        assert limit.tokens < 1 and limit.locked()
        with pytest.raises(TimeoutError) as info:
            await limit.acquire(timeout=0)
        assert info.value.retry_after is not None and 0 < info.value.retry_after <= 0.05 + 1e-3
        start = time.monotonic()
        await limit.acquire(timeout=5)  # granted by the server's refill timer
        assert time.monotonic() - start >= 0.03
        with pytest.raises(ValueError, match="tokens"):
            await limit.acquire(tokens=3)
        await limit.release(2)
        await limit.acquire(tokens=1.5, timeout=0)
        await limit.set_rate(50)
        assert limit.rate == 50 and limit.capacity == 50
        state = await limit.read()
        assert state.rate == 50 and state.capacity == 50 and limit.rate == 50
        with pytest.raises(ValueError):
            client.AdvancedRateLimit(name + "x", rate=0)
        with pytest.raises(ValueError):  # exists with another rate
            await client.AdvancedRateLimit(name, rate=7).acquire()
        await client.AdvancedRateLimit(name, rate=20, capacity=2).declare()  # as created: fine


async def test_rate_limit_unfair_lets_small_requests_pass(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        limit = client.AdvancedRateLimit(name, rate=1, capacity=2, fair=False)
        await limit.acquire(tokens=2)
        big = asyncio.create_task(limit.acquire(tokens=2, timeout=10))
        await asyncio.sleep(0)
        await limit.release(1)
        await limit.acquire(tokens=1, timeout=0)  # passes the queued big one
        big.cancel()
        with pytest.raises(asyncio.CancelledError):
            await big
        assert (await limit.read()).waiter_count == 0


async def test_rate_limit_timeout(batond: Batond, name: str) -> None:
    async with baton.connect(batond.address) as client:
        limit = client.AdvancedRateLimit(name, rate=0.5, capacity=1)
        await limit.acquire()
        with pytest.raises(TimeoutError):
            await limit.acquire(timeout=0.05)


async def test_rate_limit_update_tokens_lock_held_is_a_no_op(batond: Batond, name: str) -> None:
    """The seed's public hook exists; the server keeps the bucket up to date."""
    async with baton.connect(batond.address) as client:
        limit = client.AdvancedRateLimit(name, rate=1, capacity=3)
        await limit.acquire()
        tokens = limit.tokens
        assert limit.update_tokens_lock_held() is None
        assert limit.tokens == tokens  # as last seen: no round trip
        assert (await limit.read()).tokens >= tokens


async def test_rate_limit_async_with_gives_the_token_back(batond: Batond, name: str) -> None:
    """The seed's LockMixin.__aexit__ calls release(): the token goes back."""
    async with baton.connect(batond.address) as client:
        limit = client.AdvancedRateLimit(name, rate=0.001, capacity=2)  # no refill to speak of
        async with limit:
            inside = (await limit.read()).tokens
            assert 0.99 <= inside < 1.01
        assert (await limit.read()).tokens >= 1.99  # the release went before the read
        with pytest.raises(ZeroDivisionError):
            async with limit:
                1 / 0
        assert (await limit.read()).tokens >= 1.99
