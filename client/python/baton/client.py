"""The Baton client: the primitives' factory, and where their requests go.

Alone, batond is one node: one channel, one session at a time. In a cluster
(batond --cluster_etcd) the client learns the members from the node it was
given (``Admin.Cluster``), computes each name's owner itself (rendezvous
hashing, ``baton/_placement.py``) and sends there: one channel and one
session per node, each opened on first use. A node that does not own a
name answers a redirect, which the client follows (see
``_Primitive._reroute`` in primitives.py).

Example::

    async with baton.connect("127.0.0.1:7070", client_name="billing") as client:
        lock = client.PriorityLock("jobs/nightly")
        async with lock:
            await run_job(fence=lock.fence)

Threading: a Client belongs to the event loop it was opened in; use it from
that loop only (any number of tasks), like every asyncio object.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from baton import errors
from baton._node import BACKOFF_FIRST, BACKOFF_MAX, NodeLink, _background
from baton._placement import owner_index
from baton._proto.baton.v1 import admin_pb2, common_pb2
from baton._session import Session, default_owner_key
from baton.primitives import (
    AdvancedRateLimit,
    DynamicBoundedSemaphore,
    KeyedCondition,
    MultiCountDownLatch,
    PriorityLock,
    PriorityRLock,
    PrioritySemaphore,
    RLock,
)

_log = logging.getLogger("baton")

# Routing in a cluster. Members are asked again at most this often (the
# redirects and session ends that trigger it can come in bursts).
_MIN_REFRESH_INTERVAL = 0.25
# How long a Cluster call may take when refreshing (seeds tried in turn).
_REFRESH_TIMEOUT = 2.0

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
]


Pem = str | os.PathLike[str] | bytes
"""A PEM given as a file's path (``str`` or ``Path``) or as its bytes."""


def _read_pem(parameter: str, value: Pem | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    try:
        with open(value, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"{parameter}: cannot read {os.fspath(value)!r}: {e.strerror}") from e


def _tls_credentials(tls: bool, ca: Pem | None, cert: Pem | None, key: Pem | None,
                     server_name: str | None) -> grpc.ChannelCredentials | None:
    """The channel's TLS credentials, or None for plaintext."""
    if not (tls or ca is not None or cert is not None or key is not None or server_name):
        return None
    if (cert is None) != (key is None):
        missing = "tls_key" if key is None else "tls_cert"
        raise ValueError(f"a client certificate needs its key and a key its certificate, "
                         f"but {missing} is not set")
    return grpc.ssl_channel_credentials(root_certificates=_read_pem("tls_ca", ca),
                                        private_key=_read_pem("tls_key", key),
                                        certificate_chain=_read_pem("tls_cert", cert))


class Client:
    """A connection to batond (or to a cluster of batond nodes).

    Every primitive made from a client sends its requests on a session of
    the client, one ``Baton/Session`` stream per node; the requests issued
    in the same event-loop iteration travel in one message. When a session
    ends (lease loss), every hold of it is marked lost, every pending call
    on it fails with :class:`~baton.errors.LeaseLost`, and the next call
    opens a new session; nothing is re-acquired automatically.

    In a cluster, each name goes to its owner: the client asks any node for
    the members (``Admin.Cluster``), computes the owner itself, and opens a
    session to each node on first use; a redirect from a node that does not
    own a name is followed, and UNAVAILABLE (the name being handed over) is
    retried with backoff within the call's timeout. A lone batond answers
    no members, and the client then sends everything to it, as before.

    Owner keys: locks and the condition belong to an owner within the
    session. By default the owner is the *current asyncio task*, so two
    tasks exclude each other and one task re-enters an RLock, as with
    asyncutils. Semaphore permits and rate-limit tokens belong to the
    session (the client).
    """

    def __init__(self, target: str | Sequence[str], *, client_name: str = "",
                 lease: float | None = None, connect_timeout: float = 10.0,
                 channel_options: list[tuple[str, Any]] | None = None,
                 tls: bool = False, tls_ca: Pem | None = None, tls_cert: Pem | None = None,
                 tls_key: Pem | None = None, tls_server_name: str | None = None,
                 token: str | None = None) -> None:
        """Prepares a client; ``open()`` (or ``async with``) connects.

        Args:
            target: batond's address, ``HOST:PORT``; for a cluster, any
                node's, or several (a list, or ``HOST:PORT,HOST:PORT``)
                tried in turn to learn the members.
            client_name: shown by Admin.Describe and batond's logs.
            lease: the session lease to ask for, in seconds (the server
                clamps it to [1 s, 1 h]); None: the server's default (30 s).
            connect_timeout: how long opening a session may take; in a
                cluster also how long a call without a timeout of its own
                retries while its name is handed over.
            channel_options: extra gRPC channel arguments.
            tls: speak TLS even when no ``tls_*`` argument is given (the
                system's CAs then verify batond). Any ``tls_*`` argument
                turns TLS on; none: plaintext.
            tls_ca: the CAs that signed batond's certificate (batond
                --tls_cert_file), as a PEM file's path or PEM bytes.
            tls_cert: this client's certificate, for a batond that asks for
                one (--tls_client_ca_file: mTLS); needs ``tls_key``.
            tls_key: the private key of ``tls_cert``.
            tls_server_name: the name batond's certificate must carry, when
                it is not the host of ``target`` (in a cluster: every
                node's certificate).
            token: the bearer token for a batond with ``--auth_file``, sent
                as ``authorization: Bearer <token>`` on every call. None:
                ``$BATON_TOKEN`` if set, else no token.

        Raises:
            ValueError: a ``tls_*`` file cannot be read, a certificate
                comes without its key (files are read here, once), or no
                target is given.
        """
        seeds = [target] if isinstance(target, str) else list(target)
        self._seeds = [a.strip() for t in seeds for a in t.split(",") if a.strip()]
        if not self._seeds:
            raise ValueError("target: no address given")
        #: The first address given.
        self.target = self._seeds[0]
        self.client_name = client_name
        self._lease = lease
        self._connect_timeout = connect_timeout
        self._channel_options = list(_CHANNEL_OPTIONS) + list(channel_options or [])
        self._credentials = _tls_credentials(tls, tls_ca, tls_cert, tls_key, tls_server_name)
        if token is None:
            token = os.environ.get("BATON_TOKEN") or None
        if token is not None and (not token or any(c <= " " or c > "~" for c in token)):
            raise ValueError("token: must be printable ASCII without spaces (an HTTP header value)")
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ())
        if tls_server_name:
            self._channel_options.append(("grpc.ssl_target_name_override", tls_server_name))
        # The node that sessions go to alone, and whose session the
        # properties below describe (in a cluster: the node that answered
        # Cluster first). None until open().
        self._home: NodeLink | None = None
        self._closed = False
        self._default_owner_key = default_owner_key()
        self._task_keys: weakref.WeakKeyDictionary[asyncio.Task[Any], str] = (
            weakref.WeakKeyDictionary())
        self._tasks_seen = 0
        # The cluster, as last answered by Admin.Cluster. _cluster is False
        # for a lone batond: then nothing below is used.
        self._cluster = False
        self._seed_links: list[NodeLink] = []
        self._links: dict[str, NodeLink] = {}  # by address: the nodes sent to
        self._member_ids: list[bytes] = []  # ascending, as Cluster answers them
        self._member_addresses: list[str] = []
        self._revision = 0
        #: Grows at every change of the member list (primitives cache their route).
        self._members_version = 0
        self._refreshing: asyncio.Future[None] | None = None
        self._refresh_scheduled = False
        self._refreshed_at = -_MIN_REFRESH_INTERVAL
        #: Redirects followed so far (a cluster's node named another owner).
        self.redirects = 0

    # --- Lifetime. ---

    def _channel(self, address: str) -> grpc.aio.Channel:
        if self._credentials is None:
            return grpc.aio.insecure_channel(address, options=self._channel_options)
        return grpc.aio.secure_channel(address, self._credentials, options=self._channel_options)

    def _new_session(self, channel: grpc.aio.Channel) -> Session:
        return Session(channel, client_name=self.client_name, owner_key=self._default_owner_key,
                       lease=self._lease, metadata=self._metadata)

    def _new_link(self, address: str, node_id: str = "") -> NodeLink:
        return NodeLink(address, self._channel(address), node_id=node_id,
                        open_session=self._new_session, connect_timeout=self._connect_timeout,
                        on_session_end=self._session_ended if self._cluster else None)

    async def open(self) -> Client:
        """Connects: learns whether batond runs alone or in a cluster, opens a session.

        Raises:
            Unavailable: batond could not be reached within connect_timeout.
        """
        if self._home is None:
            await self._discover()
        await self._session()
        return self

    async def _discover(self) -> None:
        """Asks the seeds in turn for the members; sets the home node."""
        first_answer: NodeLink | None = None
        for address in self._seeds:
            link = self._new_link(address)
            self._seed_links.append(link)
            try:
                response = await link.admin.Cluster(
                    admin_pb2.ClusterRequest(), timeout=self._connect_timeout,
                    metadata=self._metadata or None)
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.UNIMPLEMENTED and first_answer is None:
                    first_answer = link  # a batond from before clusters: alone
                continue
            if not response.members:
                first_answer = first_answer or link
                break
            self._cluster = True
            self._apply_members(response)
            home = response.node_id
            self._home = self._link(
                self._member_addresses[self._member_ids.index(home.encode())]
                if home.encode() in self._member_ids else self._member_addresses[0])
            return
        # Alone (or nobody answered: the session's open says why, as before).
        self._home = first_answer or self._seed_links[0]

    async def close(self) -> None:
        """Ends the sessions (the servers release what they held) and the channels."""
        self._closed = True
        links = {id(link): link for link in [*self._links.values(), *self._seed_links]}
        await asyncio.gather(*(link.close() for link in links.values()), return_exceptions=True)

    async def __aenter__(self) -> Client:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # --- Session. ---

    @property
    def _session_now(self) -> Session | None:
        return self._home.session_now if self._home is not None else None

    @property
    def session_id(self) -> int:
        """The current session's id, or 0 when none is open (in a cluster: the home node's)."""
        s = self._session_now
        return s.session_id if s is not None and not s.ended else 0

    @property
    def server_epoch(self) -> int:
        """The server's epoch as of the current session (grows at each restart)."""
        s = self._session_now
        return s.server_epoch if s is not None else 0

    @property
    def connected(self) -> bool:
        """True while a session is open (in a cluster: to the home node)."""
        s = self._session_now
        return s is not None and not s.ended

    @property
    def lease(self) -> float:
        """The lease granted to the current session, in seconds."""
        s = self._session_now
        return s.lease if s is not None else 0.0

    @property
    def members(self) -> list[tuple[str, str]]:
        """The cluster's members as last learned, ``(node_id, address)``; [] alone."""
        return [(i.decode(), a) for i, a in zip(self._member_ids, self._member_addresses)]

    def owner_of(self, name: str) -> str | None:
        """The node id this client sends ``name`` to; None for a lone batond."""
        i = owner_index(self._member_ids, name.encode()) if self._cluster else None
        return None if i is None else self._member_ids[i].decode()

    async def wait_session_ended(self) -> errors.BatonError | None:
        """Waits until the current session ends (lease loss); returns why."""
        s = self._session_now
        if s is None:
            return None
        await s.ended_event.wait()
        return s._ended

    def _check_open(self) -> None:
        if self._closed:
            raise errors.Unavailable("the Baton client is closed", grpc.StatusCode.UNAVAILABLE)
        if self._home is None:
            raise errors.Unavailable("the Baton client is not open: use `async with`",
                                     grpc.StatusCode.FAILED_PRECONDITION)

    async def _session(self) -> Session:
        """Returns the home node's open session, opening a new one if the last one ended."""
        self._check_open()
        assert self._home is not None
        return await self._home.session()

    # --- Routing (a cluster). ---

    def _link(self, address: str, node_id: str = "") -> NodeLink:
        """The link to the node at ``address``, made on first use."""
        link = self._links.get(address)
        if link is None or link.closed:
            if self._closed:
                raise errors.Unavailable("the Baton client is closed", grpc.StatusCode.UNAVAILABLE)
            link = self._new_link(address, node_id)
            self._links[address] = link
        elif node_id and not link.node_id:
            link.node_id = node_id
        return link

    def _link_for(self, name: bytes) -> NodeLink:
        """The node to send requests on ``name`` to: its owner in a cluster."""
        self._check_open()
        assert self._home is not None
        if not self._cluster:
            return self._home
        i = owner_index(self._member_ids, name)
        if i is None:
            return self._home
        return self._link(self._member_addresses[i], self._member_ids[i].decode())

    def _follow(self, redirect: Any) -> NodeLink:
        """A node answered a redirect: the link to the owner it names.

        The members are asked again (in the background, at a bounded rate):
        this client's list is older than the node's.
        """
        self.redirects += 1
        self._refresh_soon()
        return self._link(redirect.address, redirect.node_id)

    def _refresh_soon(self) -> None:
        """Asks for the members in the background, once the minimum interval allows."""
        if not self._refresh_scheduled and not self._closed:
            self._refresh_scheduled = True
            _background(self._refresh_later())

    async def _refresh_later(self) -> None:
        try:
            wait = self._refreshed_at + _MIN_REFRESH_INTERVAL - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)  # the bounded rate: later, not never
            await self._refresh_members()
        finally:
            self._refresh_scheduled = False

    def _session_ended(self, link: NodeLink, reason: errors.LeaseLost) -> None:
        """A node's session ended by itself: the node may have left; ask again."""
        _log.debug("baton: session to %r ended (%s): refreshing the members", link, reason)
        self._refresh_soon()

    async def _refresh_members(self) -> None:
        """Asks Admin.Cluster again, at most every _MIN_REFRESH_INTERVAL seconds.

        Asks the known members (the home node first), then the seeds, and
        applies the first answer with members.
        """
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._refreshed_at < _MIN_REFRESH_INTERVAL or self._closed:
            return
        self._refreshing = loop.create_future()
        refreshing = self._refreshing
        try:
            seen: set[str] = set()
            for link in self._refresh_candidates():
                if link.address in seen or link.closed:
                    continue
                seen.add(link.address)
                try:
                    response = await link.admin.Cluster(
                        admin_pb2.ClusterRequest(),
                        timeout=min(self._connect_timeout, _REFRESH_TIMEOUT),
                        metadata=self._metadata or None)
                except (grpc.aio.AioRpcError, grpc.aio.UsageError):
                    continue  # down, or closed meanwhile: the next one
                if response.members:
                    self._apply_members(response)
                    break
        finally:
            self._refreshed_at = loop.time()
            self._refreshing = None
            refreshing.set_result(None)

    def _refresh_candidates(self) -> Iterator[NodeLink]:
        """Whom to ask: the home node, the nodes in use, the seeds, the other members."""
        if self._home is not None:
            yield self._home
        yield from list(self._links.values())
        yield from self._seed_links
        for address in list(self._member_addresses):
            if not self._closed:
                yield self._link(address)

    def _apply_members(self, response: admin_pb2.ClusterResponse) -> None:
        """Takes in a Cluster answer newer than the last one.

        The sessions to nodes that left are abandoned: their holds are lost
        (the node revokes them, or already has, or is dead); nothing is
        re-acquired elsewhere behind the caller's back.
        """
        if response.revision < self._revision:
            return  # a node that lags behind another
        ids = [m.node_id.encode() for m in response.members]
        addresses = [m.address for m in response.members]
        self._revision = response.revision
        if ids == self._member_ids and addresses == self._member_addresses:
            return
        self._member_ids, self._member_addresses = ids, addresses
        self._members_version += 1
        kept = set(addresses)
        for address in [a for a in self._links if a not in kept]:
            link = self._links.pop(address)
            link.abandon(f"node {link.node_id or address} left the Baton cluster: "
                         f"its session ended and its holds are lost")
            if link is self._home:
                self._home = self._link(addresses[0])

    async def _declare(self, link: NodeLink, name: str,
                       config: common_pb2.InstanceConfig) -> admin_pb2.DeclareResponse:
        """Admin.Declare on ``link``: creates ``name`` as ``config`` unless it exists as such.

        In a cluster a node forwards it to the owner; UNAVAILABLE (the name
        being handed over) is retried with backoff for connect_timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_timeout
        backoff = BACKOFF_FIRST
        while True:
            try:
                return await link.admin.Declare(
                    admin_pb2.DeclareRequest(name=name.encode(), config=config),
                    timeout=self._connect_timeout, metadata=self._metadata or None)
            except grpc.aio.AioRpcError as e:
                if not (self._cluster and e.code() == grpc.StatusCode.UNAVAILABLE
                        and loop.time() + backoff < deadline):
                    raise errors.from_rpc_error(e) from None
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, BACKOFF_MAX)

    def _owner_key(self) -> tuple[str, asyncio.Task[Any] | None]:
        """The owner key of the current task (the session's default outside one)."""
        task = asyncio.current_task()
        if task is None:
            return self._default_owner_key, None
        key = self._task_keys.get(task)
        if key is None:
            self._tasks_seen += 1
            # A readable name in Describe, well under the 256-byte key limit.
            key = f"task-{self._tasks_seen}:{task.get_name()[:48]}"
            self._task_keys[task] = key
        return key, task

    # --- The primitives. ---

    def RLock(self, name: str) -> RLock:  # noqa: N802 (the seed's class names)
        """A reentrant FIFO mutex named ``name``."""
        return RLock(self, name)

    def PriorityLock(self, name: str) -> PriorityLock:  # noqa: N802
        """A non-reentrant mutex served by priority (lower first), then arrival."""
        return PriorityLock(self, name)

    def PriorityRLock(self, name: str) -> PriorityRLock:  # noqa: N802
        """A reentrant mutex served by priority (lower first), then arrival."""
        return PriorityRLock(self, name)

    def DynamicBoundedSemaphore(self, name: str, value: int = 1) -> DynamicBoundedSemaphore:  # noqa: N802
        """A FIFO semaphore whose bound can change live; declared with ``value``."""
        return DynamicBoundedSemaphore(self, name, value)

    def PrioritySemaphore(self, name: str, value: int = 1) -> PrioritySemaphore:  # noqa: N802
        """A semaphore served by priority (lower first); declared with ``value``."""
        return PrioritySemaphore(self, name, value)

    def KeyedCondition(self, name: str) -> KeyedCondition:  # noqa: N802
        """A condition variable with its own lock and waiters grouped by key."""
        return KeyedCondition(self, name)

    def MultiCountDownLatch(self, name: str, counts: Mapping[str, int]) -> MultiCountDownLatch:  # noqa: N802
        """Count-down counters by key; declared with ``counts``."""
        return MultiCountDownLatch(self, name, counts)

    def AdvancedRateLimit(self, name: str, rate: float, capacity: float | None = None,  # noqa: N802
                          fair: bool = True) -> AdvancedRateLimit:
        """A token bucket refilling at ``rate`` per second up to ``capacity``."""
        return AdvancedRateLimit(self, name, rate, capacity, fair)


def connect(target: str | Sequence[str], *, client_name: str = "", lease: float | None = None,
            connect_timeout: float = 10.0,
            channel_options: list[tuple[str, Any]] | None = None,
            tls: bool = False, tls_ca: Pem | None = None, tls_cert: Pem | None = None,
            tls_key: Pem | None = None, tls_server_name: str | None = None,
            token: str | None = None) -> Client:
    """Returns a :class:`Client` for batond at ``target``; use it with ``async with``.

    ``target`` is one address, or for a cluster any node's or several
    (``["b1:7070", "b2:7070"]`` or ``"b1:7070,b2:7070"``).

    ``async with baton.connect("127.0.0.1:7070", client_name="svc") as client:``
    opens the session on entry and ends it on exit (the server then
    releases whatever it still holds). See :class:`Client` for the arguments;
    TLS: ``baton.connect(addr, tls_ca="ca.crt")``, and for mTLS also
    ``tls_cert="me.crt", tls_key="me.key"``.
    """
    return Client(target, client_name=client_name, lease=lease,
                  connect_timeout=connect_timeout, channel_options=channel_options,
                  tls=tls, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key,
                  tls_server_name=tls_server_name, token=token)
