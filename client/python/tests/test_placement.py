"""The Python port of placement agrees with batond's C++ Placement.

The vectors in data/placement_vectors.txt were printed by the server's own
code (server/cluster/placement.cc), compiled with the generator
data/placement_vectors.cc; its header has the command.
"""

from __future__ import annotations

from pathlib import Path

from baton._placement import owner_of, placement_key, rendezvous_score

VECTORS = Path(__file__).resolve().parent / "data" / "placement_vectors.txt"


def _bytes(field: str) -> bytes:
    return b"" if field == "-" else bytes.fromhex(field)


def _vectors(kind: str) -> list[list[str]]:
    rows = [line.rstrip("\n").split("\t") for line in VECTORS.open()]
    out = [row[1:] for row in rows if row[0] == kind]
    assert out, f"no {kind} vectors"
    return out


def test_scores_match_the_servers() -> None:
    for node_id, key, score in _vectors("score"):
        assert rendezvous_score(_bytes(node_id), _bytes(key)) == int(score), (node_id, key)


def test_scores_pinned_by_the_servers_unit_test() -> None:
    # tests/server/cluster/placement_test.cc, ScoresArePinned.
    assert rendezvous_score(b"n1", b"jobs/nightly") == 1695623948682119032
    assert rendezvous_score(b"node-a", b"x") == 18872229811939082
    assert rendezvous_score(b"", b"") == 2737183428366584608
    assert owner_of([b"n1", b"n2", b"n3"], b"jobs/nightly") == b"n3"


def test_placement_keys_match_the_servers() -> None:
    for name, key in _vectors("key"):
        assert placement_key(_bytes(name)) == _bytes(key), name


def test_owners_match_the_servers() -> None:
    rows = _vectors("owner")
    for ids, name, owner in rows:
        node_ids = [_bytes(i) for i in ids.split(",")]
        assert owner_of(node_ids, _bytes(name)) == _bytes(owner), (ids, name)
    assert len(rows) > 2000


def test_no_members_no_owner() -> None:
    assert owner_of([], b"x") is None
