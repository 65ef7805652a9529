"""Hold: what one grant gave this client, and how it learns it lost it."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from baton.errors import BatonError

if TYPE_CHECKING:
    from baton._session import Session


class LostEvent(asyncio.Event):
    """The ``lost`` event of a hold: an ``asyncio.Event`` you can also await.

    ``await hold.lost`` is ``await hold.lost.wait()`` (returns True once the
    hold is lost); ``is_set()`` and ``wait()`` work as on any Event.
    """

    def __await__(self) -> Generator[Any, None, bool]:
        return self.wait().__await__()


class Hold:
    """One lock hold or semaphore permit granted to this client.

    A hold is *lost* when the server took it back without being asked: the
    session ended (lease loss, batond stopped, network cut), the instance was
    deleted, or a semaphore was reset. ``lost`` is then set and
    ``lost_reason`` says why. The client never cancels your code behind your
    back: a task that must stop when its lock goes away awaits
    ``hold.lost`` (or checks ``hold.lost.is_set()`` before each
    write, better still passing ``fence`` along to the store).

    Used from the event loop's thread only.
    """

    __slots__ = ("name", "kind", "owner_key", "fence", "depth", "task", "lost", "lost_reason",
                 "_session", "__weakref__")

    def __init__(self, session: Session, *, name: str, kind: int, owner_key: str, fence: int,
                 task: asyncio.Task[object] | None) -> None:
        self.name = name
        self.kind = kind
        #: The owner key the hold belongs to; "" for a semaphore permit.
        self.owner_key = owner_key
        #: The fencing token of the grant; larger than every earlier one of
        #: the same instance (a reentrant re-acquire keeps it).
        self.fence = fence
        #: Acquisitions not yet released (reentrant locks).
        self.depth = 1
        #: The task that acquired it.
        self.task = task
        #: Set when the hold was taken away by the server.
        self.lost = LostEvent()
        #: Why it was lost: a LeaseLost, or an Aborted for a revocation.
        self.lost_reason: BatonError | None = None
        self._session = session
        session.holds.add(self)

    @property
    def is_lost(self) -> bool:
        """True once the server has taken the hold back."""
        return self.lost.is_set()

    async def wait_lost(self) -> BatonError:
        """Waits until the hold is lost; returns the reason."""
        await self.lost.wait()
        assert self.lost_reason is not None
        return self.lost_reason

    def _mark_lost(self, reason: BatonError) -> None:
        if self.lost.is_set():
            return
        self.lost_reason = reason
        self.lost.set()
        self._session.holds.discard(self)

    def _forget(self) -> None:
        """The hold was released by the client: no loss can come any more."""
        self._session.holds.discard(self)

    def __repr__(self) -> str:
        state = "lost" if self.is_lost else "held"
        return f"<Hold {self.name!r} fence={self.fence} depth={self.depth} {state}>"
