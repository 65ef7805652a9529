"""Exceptions raised by the Baton client.

Every error the server answers becomes a :class:`BatonError` carrying the
gRPC status code and the server's message. Where the seed API
(``asyncutils.locks``) or asyncio raises a builtin exception, the Baton error
also derives from that builtin, so ``except RuntimeError:`` keeps working:

=====================  ===============================================
status                 exception (and its builtin base)
=====================  ===============================================
INVALID_ARGUMENT       :class:`InvalidArgument` (``ValueError``)
DEADLINE_EXCEEDED      :class:`WaitTimeout` (``TimeoutError``)
NOT_FOUND              :class:`NotFound` (``KeyError``)
ALREADY_EXISTS         :class:`AlreadyExists` (``ValueError``)
FAILED_PRECONDITION    :class:`FailedPrecondition` (``RuntimeError``)
ABORTED                :class:`Aborted`
RESOURCE_EXHAUSTED     :class:`ResourceExhausted`
UNAVAILABLE            :class:`Unavailable`
=====================  ===============================================

In a cluster, a redirect is followed and UNAVAILABLE retried by the client
itself (within the call's timeout); what is left of them surfaces as
:class:`Unavailable` and :class:`TooManyRedirects`.

:class:`LeaseLost` is raised by operations that were pending, or are
issued, on a session that ended: everything that session held was released
by the server.
"""

from __future__ import annotations

import grpc

__all__ = [
    "Aborted",
    "AlreadyExists",
    "BatonError",
    "FailedPrecondition",
    "InvalidArgument",
    "LeaseLost",
    "NotFound",
    "NotHeld",
    "ReleasedTooManyTimes",
    "ResourceExhausted",
    "StrictMiss",
    "TooManyRedirects",
    "Unavailable",
    "WaitTimeout",
    "from_status",
]

_CODES_BY_VALUE: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


class BatonError(Exception):
    """Base of every error of the Baton client.

    Attributes:
        code: the gRPC status code the server (or the transport) answered.
        message: the server's message, which names the field or limit at
            fault; for humans, not to be parsed.
    """

    code: grpc.StatusCode

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:  # KeyError's __str__ would repr() the message
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.name}: {self.message!r})"


class InvalidArgument(BatonError, ValueError):
    """A malformed or out-of-range argument (INVALID_ARGUMENT)."""


class WaitTimeout(BatonError, TimeoutError):
    """A wait gave up at its timeout, or a try-once failed (DEADLINE_EXCEEDED).

    Attributes:
        retry_after: for a rate limit's try-once (``timeout=0``), the seconds
            until it could be granted if nothing else changes; else None.
    """

    retry_after: float | None = None


class NotFound(BatonError, KeyError):
    """A strict miss: an unknown latch key, an undeclared instance (NOT_FOUND)."""


class AlreadyExists(BatonError, ValueError):
    """The name exists with another kind or other parameters (ALREADY_EXISTS)."""


class FailedPrecondition(BatonError, RuntimeError):
    """Not the owner, wrong kind, a deadlock, a strict notify (FAILED_PRECONDITION)."""


class NotHeld(FailedPrecondition):
    """Releasing what the caller does not hold, found out by the client itself."""


class StrictMiss(FailedPrecondition, KeyError):
    """A strict notify found fewer waiters than asked (none included).

    A ``KeyError``, as the seed raises for a strict miss, and a
    ``RuntimeError`` like every FAILED_PRECONDITION.
    """


class ReleasedTooManyTimes(NotHeld, ValueError):
    """A DynamicBoundedSemaphore released more than acquired.

    Both a ``RuntimeError`` (Baton's rule) and a ``ValueError`` (what
    ``asyncio.BoundedSemaphore``, the seed's base class, raises).
    """


class Aborted(BatonError):
    """The instance was deleted, or a permit revoked by a reset (ABORTED)."""


class ResourceExhausted(BatonError):
    """A server limit was reached; the message names it (RESOURCE_EXHAUSTED)."""


class Unavailable(BatonError):
    """The server is draining or cannot be reached (UNAVAILABLE)."""


class TooManyRedirects(Unavailable):
    """In a cluster, the nodes kept redirecting a request to one another.

    Each redirect says that node did nothing with the request; after a few
    in a row the client stops: the nodes disagree on the members for now
    (one joining or leaving). Retrying later is safe.
    """


class Unauthenticated(Unavailable, PermissionError):
    """batond has an --auth_file and the client's token (or certificate) is
    missing or unknown (UNAUTHENTICATED): no session opens."""


class PermissionDenied(BatonError, PermissionError):
    """The caller's grants in batond's --auth_file do not cover the name's
    namespace for this operation (PERMISSION_DENIED); nothing changed."""


class LeaseLost(BatonError):
    """The session ended: the server released everything it held.

    Raised by the operations pending when it ended. Holds learn of it through
    their ``lost`` event. The next operation opens a new session; nothing is
    re-acquired automatically.
    """

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        super().__init__(message, code)


_BY_CODE: dict[grpc.StatusCode, type[BatonError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: WaitTimeout,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def code_from_int(value: int) -> grpc.StatusCode:
    """Returns the grpc.StatusCode whose number is ``value`` (UNKNOWN if none)."""
    return _CODES_BY_VALUE.get(value, grpc.StatusCode.UNKNOWN)


def from_status(code: grpc.StatusCode | int, message: str) -> BatonError:
    """Returns the exception for a status the server answered (code != OK)."""
    if isinstance(code, int):
        code = code_from_int(code)
    return _BY_CODE.get(code, BatonError)(message, code)


def from_rpc_error(error: grpc.RpcError) -> BatonError:
    """Returns the exception for a failed unary call (Admin)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    return from_status(code, details or str(code))
