"""One Baton session: the ``Baton/Session`` stream and the calls riding on it.

Not an API: :class:`baton.Client` owns the current :class:`Session` and opens
the next one when it ends.

Shape (it follows the C++ client, ``client/src/client.cc``):

- ``submit()`` gives a request the next id, parks it in ``_queue`` with a
  future in ``_pending`` and wakes the writer task. The writer sends what is
  queued as one ``ClientMessage`` (at most ``_per_message`` requests), and
  has one write in flight at a time, so the requests issued in one iteration
  of the event loop, and those issued while a write is in flight, leave
  together.
- The reader task completes the future of each ``Response`` by its id, and
  acts on notices (a revoked hold is marked lost).
- The heartbeat task sends an empty ``ClientMessage`` when nothing was
  written for a third of the lease.
- When the stream ends, for any reason, every pending future fails with
  :class:`~baton.errors.LeaseLost` and every hold of the session is marked
  lost: the server released everything.

Threading: a Session lives in one event loop and is not thread-safe, like
the rest of asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import grpc.aio
from google.protobuf import duration_pb2

from baton import errors
from baton._proto.baton.v1 import common_pb2, session_pb2, session_pb2_grpc

if TYPE_CHECKING:
    from baton.holds import Hold

_log = logging.getLogger("baton")

# The server takes up to SessionLimits.max_requests_per_message (1,000 by
# default) in one message; smaller messages keep the server's first answers
# coming while it parses the rest.
_MAX_REQUESTS_PER_MESSAGE = 500

LateGrant = Callable[[session_pb2.Response], None]
"""Called with the OK answer of a request that was cancelled meanwhile."""

_SEMAPHORE_KINDS = (
    common_pb2.KIND_DYNAMIC_BOUNDED_SEMAPHORE,
    common_pb2.KIND_PRIORITY_SEMAPHORE,
)


def default_owner_key() -> str:
    """Returns ``<hostname>:<pid>``, the session's default owner key."""
    return f"{socket.gethostname()}:{os.getpid()}"


def duration(seconds: float) -> duration_pb2.Duration:
    """Returns ``seconds`` as a google.protobuf.Duration (signs kept aligned)."""
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


class _Pending:
    """One request sent and not answered yet."""

    __slots__ = ("future", "cancelled", "late_grant")

    def __init__(self, future: asyncio.Future[session_pb2.Response] | None,
                 late_grant: LateGrant | None) -> None:
        self.future = future
        # A cancel was sent and the caller is gone: an OK answer crossed it,
        # and what it granted goes back through late_grant.
        self.cancelled = False
        self.late_grant = late_grant


class Session:
    """The stream of one session, its pending requests and its holds."""

    def __init__(self, channel: grpc.aio.Channel, *, client_name: str, owner_key: str,
                 lease: float | None,
                 metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self._stub = session_pb2_grpc.BatonStub(channel)
        self._metadata = metadata
        self._client_name = client_name
        self._owner_key = owner_key
        self._lease_asked = lease
        self._loop = asyncio.get_running_loop()
        self._call: grpc.aio.StreamStreamCall | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[int, _Pending] = {}
        self._queue: list[session_pb2.Request] = []
        self._wake = asyncio.Event()
        self._next_id = 1
        self._last_write = 0.0
        self._heartbeat_due = False
        #: Counters: ClientMessages written after the first, and requests in them.
        self.messages_sent = 0
        self.requests_sent = 0
        self._per_message = _MAX_REQUESTS_PER_MESSAGE
        self._ended: errors.LeaseLost | None = None
        self.ended_event = asyncio.Event()
        # Constant once open() returned.
        self.session_id = 0
        self.server_epoch = 0
        self.lease = 0.0
        self.server_version = ""
        # The holds granted in this session, to mark lost when it ends.
        self.holds: set[Hold] = set()
        #: Called once with the reason when the stream ends (the client's
        #: router refreshes the cluster's members then).
        self.on_end: Callable[[errors.LeaseLost], None] | None = None

    @property
    def ended(self) -> bool:
        """True once the stream has ended: nothing can be sent on it."""
        return self._ended is not None

    async def open(self, timeout: float) -> None:
        """Opens the stream and waits for SessionOpened, at most ``timeout`` s.

        Raises:
            Unavailable: batond refused the session or could not be reached.
        """
        open_msg = session_pb2.OpenSession(
            client_name=self._client_name.encode(), default_owner_key=self._owner_key.encode())
        if self._lease_asked is not None:
            open_msg.lease.CopyFrom(duration(self._lease_asked))
        self._call = self._stub.Session(metadata=self._metadata or None)
        try:
            await asyncio.wait_for(self._open(open_msg), timeout)
        except (grpc.aio.AioRpcError, asyncio.TimeoutError, TimeoutError) as e:
            self._call.cancel()
            reason = e.details() if isinstance(e, grpc.aio.AioRpcError) else f"no answer in {timeout} s"
            self._ended = errors.LeaseLost(f"could not open a Baton session: {reason}")
            self.ended_event.set()
            if isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise errors.Unauthenticated(f"could not open a Baton session: {reason}",
                                             grpc.StatusCode.UNAUTHENTICATED) from e
            raise errors.Unavailable(f"could not open a Baton session: {reason}",
                                     grpc.StatusCode.UNAVAILABLE) from e
        self._last_write = self._loop.time()
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="baton-session-reader"),
            asyncio.create_task(self._write_loop(), name="baton-session-writer"),
            asyncio.create_task(self._heartbeat_loop(), name="baton-session-heartbeat"),
        ]

    async def _open(self, open_msg: session_pb2.OpenSession) -> None:
        assert self._call is not None
        await self._call.write(session_pb2.ClientMessage(open=open_msg))
        first = await self._call.read()
        if first is grpc.aio.EOF or not first.HasField("opened"):
            code = await self._call.code()
            details = await self._call.details()
            raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)
        opened = first.opened
        self.session_id = opened.session_id
        self.server_epoch = opened.server_epoch
        self.lease = opened.lease.ToNanoseconds() / 1e9
        self.server_version = opened.server_version
        if opened.limits.max_requests_per_message:
            self._per_message = min(self._per_message, opened.limits.max_requests_per_message)
        self._dispatch(first)

    # --- Sending. ---

    def submit(self, request: session_pb2.Request, *, late_grant: LateGrant | None = None,
               want_answer: bool = True) -> asyncio.Future[session_pb2.Response]:
        """Queues ``request`` (its id is set here) and returns its answer's future.

        The future fails with LeaseLost if the session ends first. With
        ``want_answer=False`` the answer is dropped (the future is still
        returned, and completed).
        """
        future: asyncio.Future[session_pb2.Response] = self._loop.create_future()
        if self._ended is not None:
            future.set_exception(self._ended)
            return future
        request.id = self._next_id
        self._next_id += 1
        self._pending[request.id] = _Pending(future if want_answer else None, late_grant)
        if not want_answer:
            future.set_result(session_pb2.Response(id=request.id))
        self._queue.append(request)
        self._wake.set()
        return future

    def cancel(self, request_id: int, *, keep_answer: bool = False) -> None:
        """Withdraws the pending request ``request_id`` on the server.

        Unless ``keep_answer``, its caller is gone: its future is dropped, and
        an OK answer that crossed the cancel is handed to its ``late_grant``,
        which gives back what was granted.
        """
        pending = self._pending.get(request_id)
        if pending is None or self._ended is not None:
            return
        if not keep_answer:
            pending.cancelled = True
        cancel = session_pb2.Request(cancel=session_pb2.Cancel(request_id=request_id))
        self.submit(cancel, want_answer=False)

    async def _write_loop(self) -> None:
        assert self._call is not None
        try:
            while self._ended is None:
                await self._wake.wait()
                self._wake.clear()
                while self._queue or self._heartbeat_due:
                    batch = self._queue[:self._per_message]
                    del self._queue[:self._per_message]
                    self._heartbeat_due = False
                    self._last_write = self._loop.time()
                    self.messages_sent += 1
                    self.requests_sent += len(batch)
                    await self._call.write(session_pb2.ClientMessage(requests=batch))
        except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as e:
            _log.debug("baton: session %d: write failed: %s", self.session_id, e)
            # The reader sees the end of the stream and does the rest.

    async def _heartbeat_loop(self) -> None:
        period = max(self.lease / 3, 0.05)
        while self._ended is None:
            idle = self._loop.time() - self._last_write
            if idle >= period:
                self._heartbeat_due = True
                self._wake.set()
                idle = 0.0
            await asyncio.sleep(period - idle)

    # --- Receiving. ---

    async def _read_loop(self) -> None:
        assert self._call is not None
        reason = "the stream ended"
        try:
            while True:
                message = await self._call.read()
                if message is grpc.aio.EOF:
                    code = await self._call.code()
                    reason = f"{code.name}: {await self._call.details()}"
                    break
                self._dispatch(message)
        except grpc.aio.AioRpcError as e:
            reason = f"{e.code().name}: {e.details()}"
        except asyncio.CancelledError:
            reason = "the client closed it"
        finally:
            self._end(errors.LeaseLost(
                f"the Baton session {self.session_id} ended ({reason}): its holds are lost"))

    def _dispatch(self, message: session_pb2.ServerMessage) -> None:
        for response in message.responses:
            self._answer(response)
        for notice in message.notices:
            which = notice.WhichOneof("notice")
            if which == "hold_revoked":
                self._revoke(notice.hold_revoked)
            elif which == "session_expiring":
                self._heartbeat_due = True
                self._wake.set()
            # Draining: the end of the stream that follows is what counts.

    def _answer(self, response: session_pb2.Response) -> None:
        pending = self._pending.pop(response.id, None)
        if pending is None:
            return
        # The caller is gone: it cancelled (a Cancel was sent), or its task was
        # cancelled and has not run yet to send one (this answer got here
        # first). Either way nobody takes what was granted: give it back.
        if pending.cancelled or (pending.future is not None and pending.future.cancelled()):
            if response.status.code == 0 and pending.late_grant is not None:
                pending.late_grant(response)
            return
        if pending.future is not None and not pending.future.done():
            pending.future.set_result(response)

    def _revoke(self, revoked: session_pb2.HoldRevoked) -> None:
        reason = errors.Aborted(f"hold revoked by the server: {revoked.reason.message}",
                                grpc.StatusCode.ABORTED)
        for hold in list(self.holds):
            if hold.name != revoked.name or hold.fence > revoked.fence:
                continue
            if revoked.kind in _SEMAPHORE_KINDS or hold.owner_key == revoked.owner_key:
                hold._mark_lost(reason)

    def _end(self, reason: errors.LeaseLost) -> None:
        if self._ended is not None:
            return
        self._ended = reason
        pending, self._pending = self._pending, {}
        self._queue.clear()
        self._wake.set()  # the writer ends
        for p in pending.values():
            if p.future is not None and not p.future.done():
                p.future.set_exception(reason)
                p.future.exception()  # retrieved: no "never retrieved" noise
        holds, self.holds = self.holds, set()
        for hold in holds:
            hold._mark_lost(reason)
        self.ended_event.set()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if self.on_end is not None:
            self.on_end(reason)

    def abandon(self, reason: errors.LeaseLost) -> None:
        """Ends the session at once, for ``reason``: its node left the cluster.

        Every hold is marked lost with ``reason`` and the stream is cancelled
        (the server, if it still runs, releases everything).
        """
        self._end(reason)
        if self._call is not None:
            self._call.cancel()

    async def close(self) -> None:
        """Ends the session: half-closes, lets the server answer, then cancels.

        The server releases everything the session holds.
        """
        if self._call is None:
            return
        if self._ended is None:
            try:
                # Let the writer flush what is queued (releases, mostly).
                while self._queue and self._ended is None:
                    await asyncio.sleep(0)
                await asyncio.wait_for(self._call.done_writing(), 1.0)
                await asyncio.wait_for(self.ended_event.wait(), 2.0)
            except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.TimeoutError,
                    TimeoutError, asyncio.InvalidStateError):
                pass
        self._call.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._end(errors.LeaseLost("the client closed the session"))
