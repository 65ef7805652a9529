"""The Baton client: one channel, one session at a time, the primitives' factory.

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
import os
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from baton import errors
from baton._proto.baton.v1 import admin_pb2, admin_pb2_grpc, common_pb2
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
    """A connection to batond: one Session stream carrying every call.

    Every primitive made from a client sends its requests on the client's
    current session; the requests issued in the same event-loop iteration
    travel in one message. When the session ends (lease loss), every hold
    of it is marked lost, every pending call fails with
    :class:`~baton.errors.LeaseLost`, and the next call opens a new session;
    nothing is re-acquired automatically.

    Owner keys: locks and the condition belong to an owner within the
    session. By default the owner is the *current asyncio task*, so two
    tasks exclude each other and one task re-enters an RLock, as with
    asyncutils. Semaphore permits and rate-limit tokens belong to the
    session (the client).
    """

    def __init__(self, target: str, *, client_name: str = "", lease: float | None = None,
                 connect_timeout: float = 10.0,
                 channel_options: list[tuple[str, Any]] | None = None,
                 tls: bool = False, tls_ca: Pem | None = None, tls_cert: Pem | None = None,
                 tls_key: Pem | None = None, tls_server_name: str | None = None,
                 token: str | None = None) -> None:
        """Prepares a client; ``open()`` (or ``async with``) connects.

        Args:
            target: batond's address, ``HOST:PORT``.
            client_name: shown by Admin.Describe and batond's logs.
            lease: the session lease to ask for, in seconds (the server
                clamps it to [1 s, 1 h]); None: the server's default (30 s).
            connect_timeout: how long opening a session may take.
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
                it is not the host of ``target``.
            token: the bearer token for a batond with ``--auth_file``, sent
                as ``authorization: Bearer <token>`` on every call. None:
                ``$BATON_TOKEN`` if set, else no token.

        Raises:
            ValueError: a ``tls_*`` file cannot be read, or a certificate
                comes without its key (files are read here, once).
        """
        self.target = target
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
        self._channel: grpc.aio.Channel | None = None
        self._admin: admin_pb2_grpc.AdminStub | None = None
        self._session_now: Session | None = None
        self._opening: asyncio.Future[Session] | None = None
        self._closed = False
        self._default_owner_key = default_owner_key()
        self._task_keys: weakref.WeakKeyDictionary[asyncio.Task[Any], str] = (
            weakref.WeakKeyDictionary())
        self._tasks_seen = 0

    # --- Lifetime. ---

    async def open(self) -> Client:
        """Connects and opens the first session.

        Raises:
            Unavailable: batond could not be reached within connect_timeout.
        """
        if self._channel is None:
            if self._credentials is None:
                self._channel = grpc.aio.insecure_channel(self.target,
                                                          options=self._channel_options)
            else:
                self._channel = grpc.aio.secure_channel(self.target, self._credentials,
                                                        options=self._channel_options)
            self._admin = admin_pb2_grpc.AdminStub(self._channel)
        await self._session()
        return self

    async def close(self) -> None:
        """Ends the session (the server releases what it held) and the channel."""
        self._closed = True
        if self._session_now is not None:
            await self._session_now.close()
        if self._channel is not None:
            await self._channel.close()

    async def __aenter__(self) -> Client:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # --- Session. ---

    @property
    def session_id(self) -> int:
        """The current session's id, or 0 when none is open."""
        s = self._session_now
        return s.session_id if s is not None and not s.ended else 0

    @property
    def server_epoch(self) -> int:
        """The server's epoch as of the current session (grows at each restart)."""
        s = self._session_now
        return s.server_epoch if s is not None else 0

    @property
    def connected(self) -> bool:
        """True while a session is open."""
        s = self._session_now
        return s is not None and not s.ended

    @property
    def lease(self) -> float:
        """The lease granted to the current session, in seconds."""
        s = self._session_now
        return s.lease if s is not None else 0.0

    async def wait_session_ended(self) -> errors.BatonError | None:
        """Waits until the current session ends (lease loss); returns why."""
        s = self._session_now
        if s is None:
            return None
        await s.ended_event.wait()
        return s._ended

    async def _session(self) -> Session:
        """Returns the open session, opening a new one if the last one ended."""
        s = self._session_now
        if s is not None and not s.ended:
            return s
        if self._closed:
            raise errors.Unavailable("the Baton client is closed", grpc.StatusCode.UNAVAILABLE)
        if self._channel is None:
            raise errors.Unavailable("the Baton client is not open: use `async with`",
                                     grpc.StatusCode.FAILED_PRECONDITION)
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_future()
            opening = self._opening
            try:
                session = Session(self._channel, client_name=self.client_name,
                                  owner_key=self._default_owner_key, lease=self._lease,
                                  metadata=self._metadata)
                await session.open(self._connect_timeout)
                self._session_now = session
                opening.set_result(session)
            except BaseException as e:
                opening.set_exception(e)
                opening.exception()
                raise
            finally:
                self._opening = None
            return session
        return await asyncio.shield(self._opening)

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

    async def _declare(self, name: str, config: common_pb2.InstanceConfig) -> admin_pb2.DeclareResponse:
        """Admin.Declare: creates ``name`` as ``config`` unless it exists as such."""
        await self._session()  # the channel is open
        assert self._admin is not None
        try:
            return await self._admin.Declare(
                admin_pb2.DeclareRequest(name=name.encode(), config=config),
                timeout=self._connect_timeout, metadata=self._metadata or None)
        except grpc.aio.AioRpcError as e:
            raise errors.from_rpc_error(e) from None

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


def connect(target: str, *, client_name: str = "", lease: float | None = None,
            connect_timeout: float = 10.0,
            channel_options: list[tuple[str, Any]] | None = None,
            tls: bool = False, tls_ca: Pem | None = None, tls_cert: Pem | None = None,
            tls_key: Pem | None = None, tls_server_name: str | None = None,
            token: str | None = None) -> Client:
    """Returns a :class:`Client` for batond at ``target``; use it with ``async with``.

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
