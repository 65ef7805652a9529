"""Placement: which node of a cluster owns a name (a port of batond's).

An exact port of ``server/cluster/placement.cc``: rendezvous (highest random
weight) hashing over the members' node ids. A node's score for a name is
FNV-1a 64 over the node id, a zero byte and the name's placement key,
finished with splitmix64's mixer; the highest score owns the name, ties to
the smaller id. The placement key is the name, except under ``envoy/``
where it is ``envoy/<domain>/``: an Envoy domain stays on one node.

``tests/test_placement.py`` checks this port against vectors printed by the
C++ code itself (``tests/data/placement_vectors.cc``).

Example::

    owner = owner_of([b"a", b"b", b"c"], b"jobs/nightly")   # b"c"

Pure functions on bytes: any thread.
"""

from __future__ import annotations

from collections.abc import Sequence

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_ENVOY_PREFIX = b"envoy/"


def _fnv1a(h: int, data: bytes) -> int:
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return h


def _mix(x: int) -> int:
    """splitmix64's finalizer."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK
    x ^= x >> 31
    return x


def rendezvous_score(node_id: bytes, key: bytes) -> int:
    """Returns ``node_id``'s score for the placement key ``key`` (a uint64)."""
    h = _fnv1a(_FNV_OFFSET, node_id)
    h = ((h ^ 0) * _FNV_PRIME) & _MASK  # the zero byte between the two
    return _mix(_fnv1a(h, key))


def placement_key(name: bytes) -> bytes:
    """Returns the part of ``name`` that places it: ``envoy/<domain>/`` or the name."""
    if not name.startswith(_ENVOY_PREFIX):
        return name
    slash = name.find(b"/", len(_ENVOY_PREFIX))
    return name if slash < 0 else name[:slash + 1]


def owner_index(node_ids: Sequence[bytes], name: bytes) -> int | None:
    """Returns the index in ``node_ids`` of ``name``'s owner; None when empty."""
    key = placement_key(name)
    best: int | None = None
    best_score = 0
    for i, node_id in enumerate(node_ids):
        score = rendezvous_score(node_id, key)
        if best is None or score > best_score or (
                score == best_score and node_id < node_ids[best]):
            best, best_score = i, score
    return best


def owner_of(node_ids: Sequence[bytes], name: bytes) -> bytes | None:
    """Returns the node id owning ``name``; None when there is no member."""
    i = owner_index(node_ids, name)
    return None if i is None else node_ids[i]
