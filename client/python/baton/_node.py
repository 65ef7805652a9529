"""One batond node as the client sees it: a channel and the current session.

Not an API: :class:`baton.Client` makes one :class:`NodeLink` for a lone
batond, and in a cluster one per node it sends to, on first use.

Threading: a NodeLink lives in its client's event loop, like the rest of
asyncio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio

from baton import errors
from baton._proto.baton.v1 import admin_pb2_grpc
from baton._session import Session

# Backoff between the retries of a cluster's UNAVAILABLE answers (a name
# being handed over, a node that cannot be reached): doubles up to the max.
BACKOFF_FIRST = 0.02
BACKOFF_MAX = 0.5


class NodeLink:
    """A node's channel, Admin stub and current Session (the next one when it ends).

    The session is opened by the first caller of :meth:`session` (the
    others wait for the same opening) and again after it ended; nothing
    is re-acquired. ``session_now`` is the session, open or ended, for the
    request path to check without awaiting.
    """

    def __init__(self, address: str, channel: grpc.aio.Channel, *, node_id: str = "",
                 open_session: Callable[[grpc.aio.Channel], Session],
                 connect_timeout: float,
                 on_session_end: Callable[[NodeLink, errors.LeaseLost], None] | None = None) -> None:
        self.address = address
        #: The node's id (batond --cluster_node_id); "" for a lone batond.
        self.node_id = node_id
        self.channel = channel
        self.admin = admin_pb2_grpc.AdminStub(channel)
        self.session_now: Session | None = None
        self._open_session = open_session
        self._connect_timeout = connect_timeout
        self._on_session_end = on_session_end
        self._opening: asyncio.Future[Session] | None = None
        self._closed: errors.BatonError | None = None

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def __repr__(self) -> str:
        return f"<NodeLink {self.node_id or '-'}@{self.address}>"

    async def session(self) -> Session:
        """Returns the open session, opening a new one if the last one ended.

        Raises:
            Unavailable: the node could not be reached, refused the session,
                or this link was closed (its node left the cluster).
        """
        s = self.session_now
        if s is not None and not s.ended:
            return s
        if self._closed is not None:
            raise self._closed
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_future()
            opening = self._opening
            try:
                session = self._open_session(self.channel)
                await session.open(self._connect_timeout)
                if self._closed is not None:  # closed while opening
                    session.abandon(errors.LeaseLost(str(self._closed)))
                    raise self._closed
                if self._on_session_end is not None:
                    session.on_end = self._session_ended
                self.session_now = session
                opening.set_result(session)
            except BaseException as e:
                opening.set_exception(e)
                opening.exception()
                raise
            finally:
                self._opening = None
            return session
        return await asyncio.shield(self._opening)

    def _session_ended(self, reason: errors.LeaseLost) -> None:
        if self._closed is None and self._on_session_end is not None:
            self._on_session_end(self, reason)

    async def close(self) -> None:
        """Ends the session (the server releases what it held) and the channel."""
        if self._closed is None:
            self._closed = errors.Unavailable("the Baton client is closed",
                                              grpc.StatusCode.UNAVAILABLE)
        if self.session_now is not None:
            await self.session_now.close()
        await self.channel.close()

    def abandon(self, reason: str) -> None:
        """The node left the cluster: its holds are lost for ``reason``, now.

        The session is cancelled and the channel closed in the background;
        nothing more is sent here.
        """
        if self._closed is not None:
            return
        self._closed = errors.Unavailable(reason, grpc.StatusCode.UNAVAILABLE)
        if self.session_now is not None:
            self.session_now.abandon(errors.LeaseLost(reason))
        _background(self.channel.close())


_tasks: set[asyncio.Task[Any]] = set()


def _background(coroutine: Any) -> None:
    """Runs ``coroutine`` in a task kept alive until it ends (its errors ignored)."""
    task = asyncio.ensure_future(coroutine)
    _tasks.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _tasks.discard(t)
        if not t.cancelled():
            t.exception()

    task.add_done_callback(done)
