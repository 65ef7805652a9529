"""The eight primitives, with the names and methods of ``asyncutils.locks``.

Make them from a client (``client.RLock("name")``); each is a handle on the
named instance in batond, which any number of clients share. See
``SEMANTICS.md`` for what each operation does on the server.

What is local and what asks the server:

- Every coroutine method (``acquire``, ``wait``, ``set_rate``, ``read``
  ...) is one round trip on the session stream.
- ``release()`` is synchronous, as in asyncio: it checks locally that the
  caller holds something (else ``RuntimeError``), sends the release, and
  returns a future that may be awaited for the server's answer (``await
  cond.release()`` also works, as the seed's ``async def release``).
  ``KeyedCondition.notify``/``notify_all`` and ``PrioritySemaphore.reset``,
  synchronous in the seed, work the same way: sent when called, their
  future resolves to the server's answer (the number woken for a notify).
- Properties and ``locked()`` are synchronous, so they report what this
  client knows: ``is_owner``, ``owner``, ``fence`` and ``hold`` are exact
  (this client's own holds); ``locked()``, ``bound``, ``tokens``, ``rate``,
  ``capacity`` and ``broken`` are as last seen (set by this client's own
  operations and by ``await x.read()``, which asks the server).

Owner: locks and the condition belong to the *current asyncio task* (an
owner key the client makes per task); semaphore permits and rate-limit
tokens belong to the client's session.

Timeouts: every wait takes ``timeout`` in seconds; None waits until granted,
0 tries once. Expiry raises ``TimeoutError`` (:class:`~baton.errors.WaitTimeout`).
Cancelling the awaiting task withdraws the wait on the server; a grant that
crossed the cancel is given back.

Lease loss is never turned into a cancellation of your code: ``async with
lock:`` keeps running its body when the session ends. The hold's ``lost``
event is set instead (``lock.lost``), and the release at the end of the body
is then a quiet no-op. A body that must stop awaits ``lock.lost`` (an
awaitable ``asyncio.Event``) alongside its work, or checks it and passes
``lock.fence`` to the store.

Routing (a cluster of batond nodes): each handle sends to the node that
owns its name, as the client computes it from the members; a redirect or
UNAVAILABLE answer, which batond gives only when it did nothing, sends the
request again (``_Primitive._reroute``). A hold stays with the session of
the node that granted it; its release goes there.

Threading: like every asyncio object, use them from their client's loop.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import grpc

from baton import errors
from baton._proto.baton.v1 import common_pb2, session_pb2
from baton._node import BACKOFF_FIRST, BACKOFF_MAX, NodeLink
from baton._session import Session, duration
from baton.holds import Hold, LostEvent

if TYPE_CHECKING:
    from baton.client import Client

__all__ = [
    "AdvancedRateLimit",
    "DynamicBoundedSemaphore",
    "InstanceState",
    "KeyedCondition",
    "MultiCountDownLatch",
    "PriorityLock",
    "PriorityRLock",
    "PrioritySemaphore",
    "RLock",
]

InstanceState = common_pb2.InstanceState
"""What ``read()`` returns: the instance now (see common.proto)."""

_FP = grpc.StatusCode.FAILED_PRECONDITION
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]
# Redirects followed in a row for one request before giving up (a cluster
# whose nodes disagree on the members for longer than that).
_MAX_REDIRECTS = 4
# The operations that wait, whose `timeout` field is the caller's.
_WAITS = ("acquire", "rate_acquire", "latch_wait", "wait_all", "condition_wait")
T = TypeVar("T")
GiveBack = Callable[[Session, session_pb2.Response], None]


def _timeout(request_field: session_pb2.Acquire, timeout: float | None) -> None:
    """Sets ``request_field.timeout`` from seconds (None and inf: no timeout)."""
    if timeout is None or timeout == math.inf:
        return
    if not isinstance(timeout, (int, float)) or math.isnan(timeout):
        raise errors.InvalidArgument(f"timeout: must be a number of seconds, got {timeout!r}",
                                     grpc.StatusCode.INVALID_ARGUMENT)
    if timeout < 0:
        raise errors.InvalidArgument(f"timeout: must be >= 0, got {timeout}",
                                     grpc.StatusCode.INVALID_ARGUMENT)
    request_field.timeout.CopyFrom(duration(timeout))


def _raise_for(response: session_pb2.Response) -> None:
    """Raises the exception for a response whose status is not OK."""
    code = response.status.code
    if code == 0:
        return
    error = errors.from_status(code, response.status.message)
    if isinstance(error, errors.WaitTimeout) and response.HasField("retry_after"):
        error.retry_after = response.retry_after.ToNanoseconds() / 1e9
    raise error


def _reroutable(response: session_pb2.Response) -> bool:
    """A cluster's answer that the request should go elsewhere, or again."""
    status = response.status
    return status.code == _UNAVAILABLE or (status.code == _FP.value[0]
                                           and status.HasField("redirect"))


def _unreachable(client: Client, error: errors.Unavailable) -> bool:
    """Whether ``error``, from opening a session in a cluster, is worth a retry elsewhere."""
    return (client._cluster and not client._closed
            and not isinstance(error, errors.Unauthenticated))


def _unavailable(error: errors.BatonError) -> session_pb2.Response:
    """An UNAVAILABLE answer standing for a node that could not be reached."""
    return session_pb2.Response(status=common_pb2.Status(code=_UNAVAILABLE, message=str(error)))


def _wait_of(request: session_pb2.Request) -> Any:
    """The operation of ``request`` if it waits (it has a ``timeout``), else None."""
    op = request.WhichOneof("op")
    return getattr(request, op) if op in _WAITS else None


async def _send(session: Session, request: session_pb2.Request,
                give_back: GiveBack | None) -> session_pb2.Response:
    """Submits ``request`` on ``session`` and returns its answer.

    If the awaiting task is cancelled, the request is cancelled on the
    server; an OK answer that crossed the cancel goes to ``give_back``.
    """
    future = session.submit(
        request, late_grant=None if give_back is None else (lambda r: give_back(session, r)))
    try:
        return await future
    except asyncio.CancelledError:
        if future.cancelled():
            session.cancel(request.id)
        elif (give_back is not None and future.exception() is None
              and future.result().status.code == 0):
            give_back(session, future.result())  # answered, but the task was cancelled
        raise


def _answer(future: asyncio.Future[session_pb2.Response],
            value: Callable[[session_pb2.Response], T], *, lease_lost_ok: bool = False,
            strict_miss: bool = False) -> asyncio.Future[T]:
    """A future of ``value(answer)`` that fails when ``future``'s answer is an error.

    What the synchronous methods that send at once (``release()``,
    ``notify()``, ``notify_all()``, ``reset()``) return:

    - an error answer is raised when the future is awaited; if nobody ever
      retrieves it, asyncio logs it ("Future exception was never
      retrieved") when the future is dropped, as for any failed future;
    - the session ending first (:class:`~baton.errors.LeaseLost`) is
      success with ``lease_lost_ok`` (a release: the server released
      everything of the session), otherwise raised when awaited but never
      logged: the holds' ``lost`` events and the next call report it;
    - ``strict_miss``: FAILED_PRECONDITION is a strict notify that found too
      few waiters (:class:`~baton.errors.StrictMiss`, a ``KeyError``).
    """
    out: asyncio.Future[T] = future.get_loop().create_future()

    def done(f: asyncio.Future[session_pb2.Response]) -> None:
        if f.cancelled():
            if not out.done():
                out.cancel()
            return
        e: BaseException | None = f.exception()  # retrieved: reported through out
        if out.done():
            return  # the caller cancelled it
        if isinstance(e, errors.LeaseLost):
            if lease_lost_ok:
                out.set_result(None)  # type: ignore[arg-type]
            else:
                out.set_exception(e)
                out.exception()  # retrieved: no log, the lost events say it
            return
        if e is None:
            r = f.result()
            if r.status.code == 0:
                out.set_result(value(r))
                return
            if strict_miss and r.status.code == _FP.value[0]:
                e = errors.StrictMiss(r.status.message, _FP)
            else:
                e = errors.from_status(r.status.code, r.status.message)
        out.set_exception(e)

    future.add_done_callback(done)
    return out


def _checked(future: asyncio.Future[session_pb2.Response]) -> asyncio.Future[None]:
    """A release's future: None, an error answer raised, a session end fine."""
    return _answer(future, lambda r: None, lease_lost_ok=True)


def _key(where: str, key: object) -> bytes:
    """``key`` as sent: keys are str on the wire (UTF-8), not any hashable."""
    if not isinstance(key, str):
        raise TypeError(f"{where}: must be a str (Baton sends keys as UTF-8 text; use "
                        f"str(key) for other hashables), got {type(key).__name__} {key!r}")
    return key.encode()


# Tasks sending a request once the session is open (see _Primitive._send_now).
_background: set[asyncio.Task[session_pb2.Response]] = set()


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class _Primitive:
    """What every handle has: a client, a name, a kind, calls and read()."""

    _KIND: ClassVar[int]
    _KIND_NAME: ClassVar[str]

    def __init__(self, client: Client, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self._client = client
        self._name = name
        self._name_bytes = name.encode()
        self._state: common_pb2.InstanceState | None = None
        # Where requests go: the owner's node (a cluster) or the lone batond,
        # as of the client's member list _link_version.
        self._link: NodeLink | None = None
        self._link_version = -1
        # Declared on this node, in this server epoch (-1: not yet).
        self._declared_link: NodeLink | None = None
        self._declared_epoch = -1
        self._declaring: asyncio.Future[None] | None = None
        # Requests of synchronous methods issued before the session was
        # ready: the first caller to get it ready sends them (in order).
        self._unsent: list[tuple[session_pb2.Request, asyncio.Future[session_pb2.Response]]] = []

    @property
    def name(self) -> str:
        """The instance's name in batond."""
        return self._name

    def __repr__(self) -> str:
        return f"<baton.{type(self).__name__} {self._name!r}>"

    # --- Declaration (kinds with parameters). ---

    def _config(self) -> common_pb2.InstanceConfig | None:
        """The parameters to declare the instance with; None: nothing to declare."""
        return None

    def _on_declared(self, config: common_pb2.InstanceConfig) -> None:
        """Takes in the live parameters the server answered Declare with."""

    async def declare(self) -> None:
        """Declares the instance if absent (Admin.Declare), once per server epoch.

        Called by the first operation; call it yourself to learn early of a
        conflict.

        Raises:
            AlreadyExists: the name exists with another kind or parameters
                (a ``ValueError``).
            InvalidArgument: a parameter is out of range.
        """
        await self._session()

    def _route(self) -> NodeLink:
        """The node this name's requests go to now (its owner in a cluster)."""
        client = self._client
        self._link = client._link_for(self._name_bytes)
        self._link_version = client._members_version
        return self._link

    async def _session(self, link: NodeLink | None = None) -> Session:
        """The open session of ``link`` (default: the route), with the instance declared.

        Sends what synchronous methods queued meanwhile (``_unsent``) before
        returning, so that they keep their place before the caller's request.
        """
        session = await self._declared_session(link or self._route())
        if self._unsent:
            self._submit_unsent(session)
        return session

    async def _declared_session(self, link: NodeLink) -> Session:
        session = link.session_now
        if session is None or session.ended:
            session = await link.session()
        if self._declared_link is link and self._declared_epoch == session.server_epoch:
            return session
        config = self._config()
        if config is None:
            self._declared_link, self._declared_epoch = link, session.server_epoch
            return session
        if self._declaring is None:
            self._declaring = asyncio.get_running_loop().create_future()
            declaring = self._declaring
            try:
                response = await self._client._declare(link, self._name, config)
                self._on_declared(response.config)
                self._declared_link, self._declared_epoch = link, session.server_epoch
                declaring.set_result(None)
            except BaseException as e:
                declaring.set_exception(e)
                declaring.exception()
                raise
            finally:
                self._declaring = None
        else:
            await asyncio.shield(self._declaring)
        return session

    def _ready(self) -> Session | None:
        """The session to send on at once (routed, open, declared), or None."""
        link = self._link
        if link is None or self._link_version != self._client._members_version:
            return None
        session = link.session_now
        if (session is None or session.ended or self._declared_link is not link
                or self._declared_epoch != session.server_epoch or self._unsent):
            return None
        return session

    # --- Calls. ---

    def _request(self, owner_key: str | None = None) -> session_pb2.Request:
        request = session_pb2.Request(name=self._name_bytes, kind=self._KIND)  # type: ignore[arg-type]
        if owner_key is not None:
            request.owner_key = owner_key.encode()
        return request

    async def _call(self, request: session_pb2.Request, *, give_back: GiveBack | None = None,
                    check: bool = True) -> tuple[session_pb2.Response, Session]:
        """Sends ``request`` and returns its answer and the session it went on.

        If the awaiting task is cancelled, the request is cancelled on the
        server; an OK answer that crossed the cancel goes to ``give_back``.
        In a cluster, a redirect or an UNAVAILABLE answer sends it again
        (see _reroute).
        """
        client = self._client
        link = self._link
        session = link.session_now if link is not None else None
        if (session is None or session.ended or self._link_version != client._members_version
                or self._declared_link is not link or self._declared_epoch != session.server_epoch
                or self._unsent):
            session = None
        if client._cluster:
            return await self._call_routed(request, session, give_back, check)
        if session is None:
            session = await self._session()
        # The lone batond's path, kept lean: _send inlined.
        future = session.submit(
            request, late_grant=None if give_back is None else (lambda r: give_back(session, r)))
        try:
            response = await future
        except asyncio.CancelledError:
            if future.cancelled():
                session.cancel(request.id)
            elif (give_back is not None and future.exception() is None
                  and future.result().status.code == 0):
                give_back(session, future.result())  # answered, but the task was cancelled
            raise
        if check:
            _raise_for(response)
        return response, session

    async def _call_routed(self, request: session_pb2.Request, session: Session | None,
                           give_back: GiveBack | None,
                           check: bool) -> tuple[session_pb2.Response, Session]:
        """_call in a cluster: to the owner's session, rerouted if need be."""
        client = self._client
        sent_at = asyncio.get_running_loop().time()
        if session is None:
            try:
                session = await self._session()
            except errors.Unavailable as e:
                if not _unreachable(client, e):
                    raise
                return await self._reroute(request, _unavailable(e), give_back, sent_at)
        response = await _send(session, request, give_back)
        if response.status.code != 0 and _reroutable(response):
            response, session = await self._reroute(request, response, give_back, sent_at)
        if check:
            _raise_for(response)
        return response, session

    async def _reroute(self, request: session_pb2.Request, response: session_pb2.Response,
                       give_back: GiveBack | None,
                       sent_at: float) -> tuple[session_pb2.Response, Session]:
        """Sends ``request`` again after a redirect or UNAVAILABLE (a cluster).

        Both answers say the node did nothing: a redirect comes from a node
        that does not own the name and refused to create it, UNAVAILABLE
        from one that cannot grant it yet (it is being handed over, or the
        node cannot prove its lease), or from a wait that ended, ungranted,
        when its instance moved. So the request can go again without
        granting twice. (A session that ends under a request is another
        matter: that fails with LeaseLost, never sent again.)

        A redirect goes to the node it names (at most _MAX_REDIRECTS in a
        row, then TooManyRedirects); UNAVAILABLE, or a node that cannot be
        reached, is retried with backoff after asking for the members again,
        until the request's own timeout (counted from ``sent_at``; the
        client's connect_timeout from now when it has none). A wait's
        timeout is cut to what is left of it.
        """
        client = self._client
        loop = asyncio.get_running_loop()
        wait = _wait_of(request)
        if wait is not None and wait.HasField("timeout"):
            deadline = sent_at + wait.timeout.ToNanoseconds() / 1e9
        else:  # from now: a wait without a timeout may have waited long already
            deadline = loop.time() + client._connect_timeout
        redirects: list[str] = []
        session: Session | None = None
        backoff = BACKOFF_FIRST
        while True:
            status = response.status
            if status.code == _FP.value[0] and status.HasField("redirect"):
                redirects.append(status.redirect.node_id or status.redirect.address)
                if len(redirects) > _MAX_REDIRECTS:
                    raise errors.TooManyRedirects(
                        f"{self._KIND_NAME} {self._name!r}: redirected {len(redirects)} times "
                        f"({' -> '.join(redirects)}): the nodes disagree on who owns it; "
                        f"retry later", grpc.StatusCode.UNAVAILABLE)
                link = client._follow(status.redirect)
                self._link, self._link_version = link, client._members_version
            elif status.code == _UNAVAILABLE:
                if loop.time() + backoff > deadline:
                    _raise_for(response)
                await asyncio.sleep(backoff)
                backoff = min(2 * backoff, BACKOFF_MAX)
                await client._refresh_members()
                link = self._route()
            else:
                assert session is not None
                return response, session
            if wait is not None and wait.HasField("timeout"):
                wait.timeout.CopyFrom(duration(max(0.0, deadline - loop.time())))
            try:
                session = await self._session(link)
            except errors.Unavailable as e:
                if not _unreachable(client, e):
                    raise
                response = _unavailable(e)  # the node is down, or left: ask again, retry
                continue
            response = await _send(session, request, give_back)

    def _send_now(self, request: session_pb2.Request, value: Callable[[session_pb2.Response], T],
                  **answer: bool) -> asyncio.Future[T]:
        """Sends ``request`` now and returns the future of its answer (see _answer).

        Sent at once on the open session; with none open yet, or the
        instance still to declare, as soon as that is done (a task does it).
        """
        session = self._ready()
        if session is not None:
            return _answer(self._submit(session, request), value, **answer)
        response: asyncio.Future[session_pb2.Response] = asyncio.get_running_loop().create_future()
        self._unsent.append((request, response))
        if len(self._unsent) == 1:
            task = asyncio.ensure_future(self._send_unsent())
            _background.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(_background.discard)
        return _answer(response, value, **answer)

    def _submit(self, session: Session,
                request: session_pb2.Request) -> asyncio.Future[session_pb2.Response]:
        """``session.submit(request)``; in a cluster, its answer rerouted if need be."""
        future = session.submit(request)
        if not self._client._cluster:
            return future
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        out: asyncio.Future[session_pb2.Response] = loop.create_future()

        async def reroute(response: session_pb2.Response) -> None:
            try:
                response, _ = await self._reroute(request, response, None, sent_at)
            except BaseException as e:  # noqa: BLE001 (handed to the caller's future)
                if not out.done():
                    out.set_exception(e)
                return
            if not out.done():
                out.set_result(response)

        def done(f: asyncio.Future[session_pb2.Response]) -> None:
            if out.done():
                return
            if f.cancelled():
                out.cancel()
            elif (e := f.exception()) is not None:
                out.set_exception(e)
            elif f.result().status.code != 0 and _reroutable(f.result()):
                task = asyncio.ensure_future(reroute(f.result()))
                _background.add(task)
                task.add_done_callback(_background.discard)
            else:
                out.set_result(f.result())

        future.add_done_callback(done)
        return out

    async def _send_unsent(self) -> None:
        """Opens the session and declares, which sends ``_unsent`` (see _session)."""
        try:
            await self._session()
        except BaseException as e:
            unsent, self._unsent = self._unsent, []
            for _, response in unsent:
                if isinstance(e, asyncio.CancelledError):
                    response.cancel()
                elif not response.done():
                    response.set_exception(e)

    def _submit_unsent(self, session: Session) -> None:
        """Sends what _send_now queued, in order, before the caller's own request."""
        unsent, self._unsent = self._unsent, []
        for request, response in unsent:
            def forward(f: asyncio.Future[session_pb2.Response],
                        response: asyncio.Future[session_pb2.Response] = response) -> None:
                if response.done():
                    return
                if f.cancelled():
                    response.cancel()
                elif (e := f.exception()) is not None:
                    response.set_exception(e)
                else:
                    response.set_result(f.result())
            self._submit(session, request).add_done_callback(forward)

    def _read_owner(self) -> str | None:
        return None

    async def read(self) -> common_pb2.InstanceState:
        """Reads the instance on the server (its state now, for this owner).

        Also refreshes what ``locked()`` and the cached properties report.
        """
        request = self._request(self._read_owner())
        request.read.SetInParent()
        response, _ = await self._call(request)
        self._state = response.state
        self._take_state(response.state)
        return response.state

    def _take_state(self, state: common_pb2.InstanceState) -> None:
        """Updates cached properties from a state read."""


# ---------------------------------------------------------------------------
# Locks.


class _Lock(_Primitive):
    """A mutex owned by (session, task): RLock, PriorityLock, PriorityRLock, the condition's."""

    _REENTRANT: ClassVar[bool] = False

    def __init__(self, client: Client, name: str) -> None:
        super().__init__(client, name)
        # This client's holds, by owner key (one per task holding it).
        self._holds: dict[str, Hold] = {}

    def _read_owner(self) -> str | None:
        return self._client._owner_key()[0]

    def _give_back(self, owner_key: str) -> GiveBack:
        def give_back(session: Session, response: session_pb2.Response) -> None:
            release = self._request(owner_key)
            release.release.SetInParent()
            session.submit(release, want_answer=False)
        return give_back

    async def _acquire(self, priority: int, timeout: float | None) -> bool:
        if not isinstance(priority, int):
            raise errors.InvalidArgument(f"priority: must be an int, got {priority!r}",
                                         grpc.StatusCode.INVALID_ARGUMENT)
        owner_key, task = self._client._owner_key()
        request = self._request(owner_key)
        request.acquire.priority = priority
        _timeout(request.acquire, timeout)
        response, session = await self._call(request, give_back=self._give_back(owner_key))
        hold = self._holds.get(owner_key)
        if self._REENTRANT and hold is not None and not hold.is_lost and hold._session is session:
            hold.depth += 1
        else:
            hold = Hold(session, name=self._name, kind=self._KIND, owner_key=owner_key,
                        fence=response.fence, task=task)
            self._holds[owner_key] = hold
            if session.ended:
                hold._mark_lost(session._ended or errors.LeaseLost("the session ended"))
        self._state = None
        return True

    def release(self) -> asyncio.Future[None]:
        """Releases the current task's hold (one level of it, if reentrant).

        Returns at once; the returned future, which need not be awaited,
        completes with the server's answer. Releasing a hold that was lost
        is a quiet no-op: the server has released it already.

        Raises:
            RuntimeError: the current task holds no lock here
                (:class:`~baton.errors.NotHeld`).
        """
        owner_key, _ = self._client._owner_key()
        hold = self._holds.get(owner_key)
        if hold is None:
            raise errors.NotHeld(
                f"{self._KIND_NAME} {self._name!r}: release by a task that does not hold it", _FP)
        hold.depth -= 1
        if hold.depth <= 0:
            del self._holds[owner_key]
            hold._forget()
        if hold.is_lost or hold._session.ended:
            return _done()
        request = self._request(owner_key)
        request.release.SetInParent()
        return _checked(hold._session.submit(request))

    def _own(self) -> Hold | None:
        hold = self._holds.get(self._client._owner_key()[0])
        return hold if hold is not None and not hold.is_lost else None

    def locked(self) -> bool:
        """Whether the lock is held, as last seen by this client.

        True while a task of this client holds it; otherwise what the last
        ``read()`` answered (False if none). ``await read()`` asks the server.
        """
        if any(not h.is_lost for h in self._holds.values()):
            return True
        return self._state is not None and self._state.locked

    @property
    def is_owner(self) -> bool:
        """True if the current task holds the lock (and it was not lost)."""
        return self._own() is not None

    @property
    def owner(self) -> asyncio.Task[object] | None:
        """The task of this client holding the lock, or None (free, or held elsewhere)."""
        for hold in self._holds.values():
            if not hold.is_lost:
                return hold.task
        return None

    @property
    def hold(self) -> Hold | None:
        """The current task's hold (possibly lost), or None."""
        return self._holds.get(self._client._owner_key()[0])

    @property
    def fence(self) -> int | None:
        """The fencing token of the current task's hold, or None."""
        hold = self._holds.get(self._client._owner_key()[0])
        return hold.fence if hold is not None else None

    @property
    def lost(self) -> LostEvent:
        """Set when the current task's hold is taken away by the server.

        An ``asyncio.Event`` that can also be awaited: ``await lock.lost``.

        Raises:
            RuntimeError: the current task holds nothing here.
        """
        hold = self._holds.get(self._client._owner_key()[0])
        if hold is None:
            raise errors.NotHeld(f"{self._KIND_NAME} {self._name!r}: not held by this task", _FP)
        return hold.lost

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release()

    async def acquire(self) -> bool:  # overridden with each kind's parameters
        raise NotImplementedError


class RLock(_Lock):
    """A reentrant mutex served in FIFO order (asyncutils ``RLock``).

    The owner is the current task: the task holding it re-enters at once,
    and each ``acquire`` needs its ``release``.

    Example::

        lock = client.RLock("orders/42")
        async with lock:
            async with lock:  # same task: re-entered
                ...
    """

    _KIND = common_pb2.KIND_RLOCK
    _KIND_NAME = "RLock"
    _REENTRANT = True

    async def acquire(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Acquires the lock for the current task; returns True.

        Raises:
            TimeoutError: not granted within ``timeout`` seconds.
            LeaseLost: the session ended while waiting.
        """
        return await self._acquire(0, timeout)


class PriorityLock(_Lock):
    """A non-reentrant mutex served by priority (lower first), then arrival.

    Example::

        lock = client.PriorityLock("jobs/nightly")
        await lock.acquire(priority=-10, timeout=5)
        try:
            await run_job(fence=lock.fence)
        finally:
            lock.release()
    """

    _KIND = common_pb2.KIND_PRIORITY_LOCK
    _KIND_NAME = "PriorityLock"

    async def acquire(self, priority: int = 0, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Acquires the lock for the current task; returns True.

        Raises:
            TimeoutError: not granted within ``timeout`` seconds.
            RuntimeError: the current task holds it already (a deadlock).
            LeaseLost: the session ended while waiting.
        """
        return await self._acquire(priority, timeout)


class PriorityRLock(_Lock):
    """A reentrant mutex served by priority (lower first), then arrival.

    Example::

        lock = client.PriorityRLock("index/rebuild")
        async with lock:            # priority 0
            await lock.acquire(priority=5)  # re-entry: granted at once
            lock.release()
    """

    _KIND = common_pb2.KIND_PRIORITY_RLOCK
    _KIND_NAME = "PriorityRLock"
    _REENTRANT = True

    async def acquire(self, priority: int = 0, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Acquires (or re-enters) the lock for the current task; returns True.

        Raises:
            TimeoutError: not granted within ``timeout`` seconds.
            LeaseLost: the session ended while waiting.
        """
        return await self._acquire(priority, timeout)


# ---------------------------------------------------------------------------
# KeyedCondition.


class KeyedCondition(_Lock):
    """A condition variable with a FIFO lock of its own and waiters by key.

    Keys are str (not any hashable, as in the seed: the wire carries
    text); another type raises ``TypeError``. ``wait`` releases the lock
    while waiting and holds it again when it returns (also when it raises
    TimeoutError or is cancelled), as ``asyncio.Condition`` does.

    Example::

        cond = client.KeyedCondition("jobs")
        async with cond:
            await cond.wait_for("job-42", lambda: results.get(42) is not None)
        # elsewhere:
        async with cond:
            results[42] = "done"
            woken = await cond.notify_all("job-42")
    """

    _KIND = common_pb2.KIND_KEYED_CONDITION
    _KIND_NAME = "KeyedCondition"

    async def acquire(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Acquires the condition's lock for the current task; returns True.

        Raises:
            TimeoutError: not granted within ``timeout`` seconds.
            RuntimeError: the current task holds it already.
        """
        return await self._acquire(0, timeout)

    def assert_locked(self) -> None:
        """Raises RuntimeError unless the current task holds the lock."""
        if self._own() is None:
            raise errors.NotHeld(
                f"KeyedCondition {self._name!r}: the current task does not hold the lock", _FP)

    def _held_hold(self, what: str) -> tuple[str, Hold]:
        owner_key, _ = self._client._owner_key()
        hold = self._holds.get(owner_key)
        if hold is None or hold.is_lost:
            raise errors.NotHeld(
                f"KeyedCondition {self._name!r}: {what} needs the lock, which the current task "
                f"does not hold" + (" (it was lost)" if hold is not None else ""), _FP)
        return owner_key, hold

    async def wait(self, key: str, timeout: float | None = None) -> None:
        """Releases the lock, waits for a notify of ``key``, holds the lock again.

        Raises:
            TimeoutError: no notify within ``timeout`` seconds (the lock is
                held again).
            RuntimeError: the current task does not hold the lock.
            LeaseLost: the session ended (the lock is not held).
            TypeError: ``key`` is not a str.
        """
        data = _key("KeyedCondition.wait(key)", key)
        owner_key, hold = self._held_hold("wait()")
        request = self._request(owner_key)
        request.condition_wait.key = data
        _timeout(request.condition_wait, timeout)
        session = hold._session
        future = session.submit(request)
        cancelled = False
        while not future.done():
            try:
                await asyncio.wait([future])
            except asyncio.CancelledError:
                # Withdraw the wait, then wait for its answer anyway: it comes
                # back holding the lock, which the caller's `async with` will
                # release. Leaving before that would release a lock not yet
                # re-acquired, and hold it forever once it is.
                if not cancelled:
                    cancelled = True
                    session.cancel(request.id, keep_answer=True)
        if future.exception() is not None:
            raise future.exception()  # type: ignore[misc]  # LeaseLost: the hold is lost too
        response = future.result()
        if response.HasField("fence"):
            hold.fence = response.fence
        elif response.status.code != 0:
            # ABORTED: session ended or instance deleted: the lock is not held.
            hold._mark_lost(errors.from_status(response.status.code, response.status.message))
        if cancelled:
            raise asyncio.CancelledError()
        _raise_for(response)

    async def wait_for(self, key: str, pred: Callable[[], bool | Awaitable[bool]] | None = None,
                       per_wait_timeout: float | None = None, *,
                       predicate: Callable[[], bool | Awaitable[bool]] | None = None) -> None:
        """Waits on ``key`` until ``pred()`` is true, checking after each wake-up.

        The lock must be held; ``pred`` may be a plain function or return
        an awaitable. A wait that ends unnotified (its ``per_wait_timeout``)
        re-checks once, then raises. ``predicate=`` is an older keyword
        name of ``pred``.

        Raises:
            TimeoutError: a wait timed out and the predicate is still false.
            TypeError: ``key`` is not a str, or no predicate (or two) given.
        """
        if (pred is None) == (predicate is None):
            raise TypeError("KeyedCondition.wait_for() takes one predicate: pred "
                            "(or its older keyword name, predicate)")
        test = pred if pred is not None else predicate
        assert test is not None
        _key("KeyedCondition.wait_for(key)", key)

        async def check() -> bool:
            result = test()
            if inspect.isawaitable(result):
                result = await result
            return bool(result)

        while not await check():
            try:
                await self.wait(key, per_wait_timeout)
            except TimeoutError:
                if await check():
                    return
                raise

    def notify(self, key: str, n: int = 1, strict: bool = False) -> asyncio.Future[int]:
        """Wakes up to ``n`` waiters of ``key``, oldest first.

        Synchronous, as the seed's: the notify is sent when called, and needs
        no ``await``. The returned future, which may be awaited, resolves to
        how many were woken, or raises the server's error. An error nobody
        awaits is logged by asyncio ("Future exception was never
        retrieved"), as for any failed future.

        Raises:
            RuntimeError: the current task does not hold the lock (at once,
                as ``asyncio.Condition.notify``; from the future if the
                server finds it, e.g. the lock was just lost).
            TypeError: ``key`` is not a str.
            ValueError: ``n`` is not an int >= 1.
            KeyError: from the future: ``strict`` and fewer than ``n`` were
                waiting (:class:`~baton.errors.StrictMiss`; those found are
                woken).
        """
        data = _key("KeyedCondition.notify(key)", key)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise errors.InvalidArgument(f"KeyedCondition.notify(n): must be an int >= 1, got {n!r}",
                                         grpc.StatusCode.INVALID_ARGUMENT)
        owner_key, hold = self._held_hold("notify()")
        request = self._request(owner_key)
        request.notify.key = data
        request.notify.n = n
        request.notify.strict = strict
        return _answer(hold._session.submit(request), lambda r: r.count, strict_miss=strict)

    def notify_all(self, key: str | None = None) -> asyncio.Future[int]:
        """Wakes every waiter of ``key`` (of all keys when None).

        Synchronous, as the seed's: sent when called; the returned future
        resolves to how many were woken (the seed's return value) or raises
        the server's error (see :meth:`notify`).

        Raises:
            RuntimeError: the current task does not hold the lock.
            TypeError: ``key`` is neither a str nor None.
        """
        data = None if key is None else _key("KeyedCondition.notify_all(key)", key)
        owner_key, hold = self._held_hold("notify_all()")
        request = self._request(owner_key)
        request.notify_all.SetInParent()
        if data is not None:
            request.notify_all.key = data
        return _answer(hold._session.submit(request), lambda r: r.count)

    async def wait_all(self, timeout: float | None = None) -> None:
        """Waits until every ``wait`` pending now has been notified or has left.

        Needs no lock and takes none; later waiters do not count.

        Raises:
            TimeoutError: not so within ``timeout`` seconds.
        """
        request = self._request()
        request.wait_all.SetInParent()
        _timeout(request.wait_all, timeout)
        await self._call(request)


# ---------------------------------------------------------------------------
# Semaphores.


class _Semaphore(_Primitive):
    """Permits owned by the session: DynamicBoundedSemaphore, PrioritySemaphore."""

    def __init__(self, client: Client, name: str, value: int) -> None:
        super().__init__(client, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise errors.InvalidArgument(f"value: must be an int >= 0, got {value!r}",
                                         grpc.StatusCode.INVALID_ARGUMENT)
        self._value = value
        # This client's permits, oldest first.
        self._permits: list[Hold] = []

    def _config(self) -> common_pb2.InstanceConfig:
        return common_pb2.InstanceConfig(
            kind=self._KIND,  # type: ignore[arg-type]
            semaphore=common_pb2.SemaphoreParams(value=self._value))

    def _give_back(self) -> GiveBack:
        def give_back(session: Session, response: session_pb2.Response) -> None:
            release = self._request()
            release.release.SetInParent()
            session.submit(release, want_answer=False)
        return give_back

    async def _acquire(self, priority: int, timeout: float | None) -> bool:
        if not isinstance(priority, int):
            raise errors.InvalidArgument(f"priority: must be an int, got {priority!r}",
                                         grpc.StatusCode.INVALID_ARGUMENT)
        request = self._request()
        request.acquire.priority = priority
        _timeout(request.acquire, timeout)
        response, session = await self._call(request, give_back=self._give_back())
        hold = Hold(session, name=self._name, kind=self._KIND, owner_key="",
                    fence=response.fence, task=asyncio.current_task())
        if session.ended:
            hold._mark_lost(session._ended or errors.LeaseLost("the session ended"))
        self._permits.append(hold)
        self._state = None
        return True

    def _pop_permit(self) -> Hold | None:
        """Takes one of this client's permits: the current task's latest if any."""
        if not self._permits:
            return None
        task = asyncio.current_task()
        for i in range(len(self._permits) - 1, max(len(self._permits) - 9, -1), -1):
            if self._permits[i].task is task:
                return self._permits.pop(i)
        return self._permits.pop()

    def _release(self, strict: bool) -> asyncio.Future[None]:
        hold = self._pop_permit()
        if hold is None and strict:
            error = (errors.ReleasedTooManyTimes if self._KIND == common_pb2.KIND_DYNAMIC_BOUNDED_SEMAPHORE
                     else errors.NotHeld)
            raise error(f"{self._KIND_NAME} {self._name!r}: released too many times "
                        f"(this client holds no permit)", _FP)
        request = self._request()
        request.release.SetInParent()
        if not strict:
            request.release.strict = False
        if hold is None:  # non-strict, no permit: a new one joins the pool
            return self._send_now(request, lambda r: None, lease_lost_ok=True)
        hold._forget()
        if hold.is_lost or hold._session.ended:
            return _done()
        return _checked(hold._session.submit(request))

    def locked(self) -> bool:
        """Whether an acquire would wait, as last seen (``await read()`` asks)."""
        return self._state is not None and self._state.locked

    @property
    def permits(self) -> int:
        """Permits this client holds (not lost)."""
        return sum(1 for h in self._permits if not h.is_lost)

    @property
    def hold(self) -> Hold | None:
        """This client's latest permit (the current task's if it has one), or None."""
        task = asyncio.current_task()
        for h in reversed(self._permits):
            if h.task is task:
                return h
        return self._permits[-1] if self._permits else None

    @property
    def fence(self) -> int | None:
        """The fence of :attr:`hold`, or None."""
        hold = self.hold
        return hold.fence if hold is not None else None

    @property
    def lost(self) -> LostEvent:
        """Set when :attr:`hold` is taken away (session end, reset, delete).

        An ``asyncio.Event`` that can also be awaited: ``await sem.lost``.

        Raises:
            RuntimeError: this client holds no permit.
        """
        hold = self.hold
        if hold is None:
            raise errors.NotHeld(f"{self._KIND_NAME} {self._name!r}: no permit held", _FP)
        return hold.lost

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._release(strict=True)

    async def acquire(self) -> bool:  # overridden with each kind's parameters
        raise NotImplementedError


class DynamicBoundedSemaphore(_Semaphore):
    """A FIFO counting semaphore whose bound can change live.

    Declared with ``value`` (the initial bound) if absent. Permits belong to
    the client's session.

    Example::

        db = client.DynamicBoundedSemaphore("downstream/db", value=4)
        async with db:
            await query()
        db.bound = 8                 # or: await db.set_bound(8)
    """

    _KIND = common_pb2.KIND_DYNAMIC_BOUNDED_SEMAPHORE
    _KIND_NAME = "DynamicBoundedSemaphore"

    def __init__(self, client: Client, name: str, value: int = 1) -> None:
        super().__init__(client, name, value)
        self._bound = value

    def _on_declared(self, config: common_pb2.InstanceConfig) -> None:
        self._bound = config.semaphore.value

    def _take_state(self, state: common_pb2.InstanceState) -> None:
        self._bound = state.bound

    async def acquire(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Takes one permit for this client; returns True.

        Raises:
            TimeoutError: none within ``timeout`` seconds.
        """
        return await self._acquire(0, timeout)

    def release(self) -> asyncio.Future[None]:
        """Returns one of this client's permits (the future: the server's answer).

        Raises:
            ValueError, RuntimeError: this client holds no permit
                (:class:`~baton.errors.ReleasedTooManyTimes`).
        """
        return self._release(strict=True)

    @property
    def bound(self) -> int:
        """The bound, as last seen (declared, set or read)."""
        return self._bound

    @bound.setter
    def bound(self, value: int) -> None:
        """Sets the bound on the server (see set_bound), without waiting for the answer.

        Sent when set (once the session is open), so it goes before any
        later call: ``db.bound = 8; await db.set_bound(2)`` leaves 2. An
        error answer is logged by asyncio, there being nobody to raise it to.
        """
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise errors.InvalidArgument(f"bound: must be an int >= 0, got {value!r}",
                                         grpc.StatusCode.INVALID_ARGUMENT)
        self._bound = value
        request = self._request()
        request.set_bound.bound = value
        self._send_now(request, lambda r: None)

    async def set_bound(self, bound: int) -> None:
        """Changes the bound live: raising it wakes waiters, lowering takes nothing back.

        Raises:
            ValueError: ``bound`` < 0.
        """
        request = self._request()
        request.set_bound.bound = bound
        await self._call(request)
        self._bound = bound


class PrioritySemaphore(_Semaphore):
    """A counting semaphore served by priority (lower first), then arrival.

    Declared with ``value`` (the pool that ``reset`` restores) if absent.

    Example::

        slots = client.PrioritySemaphore("workers", value=2)
        await slots.acquire(priority=-1, timeout=30)   # urgent
        try:
            await work()
        finally:
            slots.release()
    """

    _KIND = common_pb2.KIND_PRIORITY_SEMAPHORE
    _KIND_NAME = "PrioritySemaphore"

    def __init__(self, client: Client, name: str, value: int = 1) -> None:
        super().__init__(client, name, value)

    async def acquire(self, priority: int = 0, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Takes one permit for this client, queued by ``priority``; returns True.

        Raises:
            TimeoutError: none within ``timeout`` seconds.
        """
        return await self._acquire(priority, timeout)

    def release(self, strict: bool = True) -> asyncio.Future[None]:
        """Returns one of this client's permits.

        With ``strict=False`` and no permit held, a new permit joins the pool.

        Raises:
            RuntimeError: ``strict`` and this client holds no permit.
        """
        return self._release(strict)

    def reset(self) -> asyncio.Future[None]:
        """Revokes every permit out (theirs are marked lost) and restores the pool.

        Synchronous, as the seed's: sent when called (once the session is
        open), no ``await`` needed. The returned future, which may be
        awaited, resolves to None once the server has done it, or raises
        its error (logged by asyncio if never retrieved).
        """
        request = self._request()
        request.reset.SetInParent()
        return self._send_now(request, lambda r: None)


# ---------------------------------------------------------------------------
# MultiCountDownLatch.


class MultiCountDownLatch(_Primitive):
    """Count-down counters by key, fixed at declaration; waits hold nothing.

    Keys are non-empty str (not any hashable, as in the seed: the wire
    carries text); another type raises ``TypeError``.

    Example::

        latch = client.MultiCountDownLatch("deploy/42", {"migrations": 1, "caches": 3})
        await latch.wait_all(timeout=600)
        # in the workers:
        await latch.count_down("caches")
    """

    _KIND = common_pb2.KIND_MULTI_COUNT_DOWN_LATCH
    _KIND_NAME = "MultiCountDownLatch"

    def __init__(self, client: Client, name: str, counts: Mapping[str, int]) -> None:
        super().__init__(client, name)
        for key, count in counts.items():
            _key("MultiCountDownLatch(counts) key", key)
            if not isinstance(count, int) or count < 0:
                raise errors.InvalidArgument(f'counts["{key}"]: must be an int >= 0, got {count!r}',
                                             grpc.StatusCode.INVALID_ARGUMENT)
        self._counts = dict(counts)
        self._broken = all(c == 0 for c in self._counts.values())

    def _config(self) -> common_pb2.InstanceConfig:
        return common_pb2.InstanceConfig(
            kind=self._KIND,  # type: ignore[arg-type]
            latch=common_pb2.LatchParams(counts=[
                common_pb2.LatchParams.Count(key=key.encode(), value=count)
                for key, count in self._counts.items()]))

    def _take_state(self, state: common_pb2.InstanceState) -> None:
        self._broken = state.broken
        self._counts = dict(state.counts)

    @property
    def broken(self) -> bool:
        """Every counter is zero (wait_all returns at once), as last seen."""
        return self._broken

    @property
    def counts(self) -> dict[str, int]:
        """The counters, as last seen (declared or read)."""
        return dict(self._counts)

    async def count_down(self, key: str, strict: bool = False) -> None:
        """Takes one off the counter of ``key``; at zero its waiters wake.

        Raises:
            KeyError: ``strict`` and ``key`` is unknown.
            RuntimeError: ``strict`` and the counter is finished already.
            TypeError: ``key`` is not a str.
        """
        data = _key("MultiCountDownLatch.count_down(key)", key)
        request = self._request()
        request.count_down.key = data
        request.count_down.strict = strict
        await self._call(request)

    async def count_down_all(self) -> None:
        """Takes one off every unfinished counter."""
        request = self._request()
        request.count_down_all.SetInParent()
        await self._call(request)

    async def wait(self, key: str, strict: bool = False, timeout: float | None = None) -> None:
        """Waits until the counter of ``key`` is zero (at once for an unknown key).

        Raises:
            KeyError: ``strict`` and ``key`` is unknown.
            TimeoutError: not zero within ``timeout`` seconds.
            TypeError: ``key`` is not a str.
        """
        data = _key("MultiCountDownLatch.wait(key)", key)
        request = self._request()
        request.latch_wait.key = data
        request.latch_wait.strict = strict
        _timeout(request.latch_wait, timeout)
        await self._call(request)

    async def wait_all(self, timeout: float | None = None) -> None:
        """Waits until every counter is zero.

        Raises:
            TimeoutError: not so within ``timeout`` seconds.
        """
        request = self._request()
        request.wait_all.SetInParent()
        _timeout(request.wait_all, timeout)
        await self._call(request)
        self._broken = True


# ---------------------------------------------------------------------------
# AdvancedRateLimit.


class AdvancedRateLimit(_Primitive):
    """A token bucket: starts full, refills at ``rate``/s up to ``capacity``.

    Declared with (rate, capacity, fair) if absent. ``fair`` (the default)
    is strict FIFO; unfair serves the smallest queued request first and lets
    newcomers in whenever they fit (a large request may starve). ``async
    with limit:`` takes one token and gives it back on exit (the seed's
    ``__aexit__`` calls ``release()``): the block waits for a token but does
    not spend it. To spend tokens, ``await limit.acquire()`` alone.

    Example::

        limit = client.AdvancedRateLimit("api/search", rate=100, capacity=200)
        async with limit:              # one token, given back on exit
            await call_api()
        await limit.acquire(tokens=5, timeout=2)
    """

    _KIND = common_pb2.KIND_ADVANCED_RATE_LIMIT
    _KIND_NAME = "AdvancedRateLimit"

    def __init__(self, client: Client, name: str, rate: float, capacity: float | None = None,
                 fair: bool = True) -> None:
        super().__init__(client, name)
        for field, v in (("rate", rate), ("capacity", capacity)):
            if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
                raise errors.InvalidArgument(f"{field}: must be finite and > 0, got {v!r}",
                                             grpc.StatusCode.INVALID_ARGUMENT)
        self._declared = (float(rate), None if capacity is None else float(capacity), bool(fair))
        self._rate = float(rate)
        self._capacity = float(capacity if capacity is not None else rate)
        self._fair = bool(fair)
        self._tokens: float | None = None

    def _config(self) -> common_pb2.InstanceConfig:
        rate, capacity, fair = self._declared
        params = common_pb2.RateLimitParams(rate=rate, fair=fair)
        if capacity is not None:
            params.capacity = capacity
        return common_pb2.InstanceConfig(kind=self._KIND, rate_limit=params)  # type: ignore[arg-type]

    def _on_declared(self, config: common_pb2.InstanceConfig) -> None:
        self._rate = config.rate_limit.rate
        self._capacity = config.rate_limit.capacity or self._rate
        self._fair = config.rate_limit.fair if config.rate_limit.HasField("fair") else True

    def _take_state(self, state: common_pb2.InstanceState) -> None:
        self._tokens = state.tokens
        self._rate = state.rate
        self._capacity = state.capacity
        self._fair = state.fair

    def _give_back(self, tokens: float) -> GiveBack:
        def give_back(session: Session, response: session_pb2.Response) -> None:
            request = self._request()
            request.rate_release.tokens = tokens
            session.submit(request, want_answer=False)
        return give_back

    async def acquire(self, tokens: float = 1.0, timeout: float | None = None) -> bool:
        """Takes ``tokens`` (may be fractional), waiting for the refill; returns True.

        Raises:
            TimeoutError: not granted within ``timeout`` seconds; with
                ``timeout=0`` the error's ``retry_after`` says how long until
                it could be.
            ValueError: ``tokens`` not in (0, capacity].
        """
        request = self._request()
        request.rate_acquire.tokens = tokens
        _timeout(request.rate_acquire, timeout)  # type: ignore[arg-type]
        response, _ = await self._call(request, give_back=self._give_back(tokens))
        self._tokens = response.tokens_left
        return True

    def release(self, tokens: float = 1.0) -> asyncio.Future[None]:
        """Adds ``tokens`` to the bucket (up to capacity); awaitable for the answer."""
        request = self._request()
        request.rate_release.tokens = tokens
        return self._send_now(request, lambda r: None, lease_lost_ok=True)

    def update_tokens_lock_held(self) -> None:
        """Does nothing: the server brings the bucket up to date itself.

        The seed's hook to refill its local bucket before an operation. In
        Baton the bucket lives in batond, which refills it on every
        operation (and on its own timer for queued waiters), so there is
        nothing to refresh here without a round trip. ``tokens`` stays as
        last seen; ``await limit.read()`` asks the server.
        """

    async def set_rate(self, new: float) -> None:
        """Changes the refill rate live; capacity becomes max(capacity, new)."""
        request = self._request()
        request.set_rate.rate = new
        await self._call(request)
        self._rate = float(new)
        self._capacity = max(self._capacity, self._rate)

    def locked(self) -> bool:
        """Whether acquiring 1 token would wait, as last seen (``await read()`` asks)."""
        if self._state is not None and self._tokens == self._state.tokens:
            return self._state.locked
        return self._tokens is not None and self._tokens < 1

    @property
    def rate(self) -> float:
        """Tokens per second, as last seen (declared, set or read)."""
        return self._rate

    @property
    def capacity(self) -> float:
        """Most tokens the bucket holds, as last seen."""
        return self._capacity

    @property
    def fair(self) -> bool:
        """Whether the queue is strict FIFO."""
        return self._fair

    @property
    def tokens(self) -> float:
        """Tokens in the bucket as last seen (after this client's last acquire or read)."""
        return self._tokens if self._tokens is not None else self._capacity

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        # As the seed's LockMixin: release() the token taken on entry. Sent,
        # not awaited (as a lock's release); an error is logged by asyncio.
        self.release()
