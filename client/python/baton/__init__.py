"""Baton's asyncio client: distributed locks, semaphores, latches, conditions
and rate limits hosted by batond, with the API of ``asyncutils.locks``.

Example::

    import baton

    async with baton.connect("127.0.0.1:7070", client_name="billing") as client:
        lock = client.PriorityLock("jobs/nightly")
        async with lock:
            ...

See ``client/python/README.md`` and ``SEMANTICS.md``.
"""

from baton.client import Client, connect
from baton.errors import (
    Aborted,
    AlreadyExists,
    BatonError,
    FailedPrecondition,
    InvalidArgument,
    LeaseLost,
    NotFound,
    NotHeld,
    PermissionDenied,
    ReleasedTooManyTimes,
    ResourceExhausted,
    StrictMiss,
    TooManyRedirects,
    Unauthenticated,
    Unavailable,
    WaitTimeout,
)
from baton.holds import Hold, LostEvent
from baton.primitives import (
    AdvancedRateLimit,
    DynamicBoundedSemaphore,
    InstanceState,
    KeyedCondition,
    MultiCountDownLatch,
    PriorityLock,
    PriorityRLock,
    PrioritySemaphore,
    RLock,
)

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AdvancedRateLimit",
    "AlreadyExists",
    "BatonError",
    "Client",
    "DynamicBoundedSemaphore",
    "FailedPrecondition",
    "Hold",
    "InstanceState",
    "InvalidArgument",
    "KeyedCondition",
    "LeaseLost",
    "LostEvent",
    "MultiCountDownLatch",
    "NotFound",
    "NotHeld",
    "PermissionDenied",
    "PriorityLock",
    "PriorityRLock",
    "PrioritySemaphore",
    "RLock",
    "ReleasedTooManyTimes",
    "ResourceExhausted",
    "StrictMiss",
    "TooManyRedirects",
    "Unauthenticated",
    "Unavailable",
    "WaitTimeout",
    "connect",
]
