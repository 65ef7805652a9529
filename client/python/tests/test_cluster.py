"""Routing in a cluster: etcd and three batond nodes (the `cluster` fixture).

The client computes each name's owner from the members (Admin.Cluster) and
sends there, one session per node; redirects are followed, hand-offs
retried; a node's death is lease loss for its holds only. The kill comes
last: the module's cluster has two nodes after it.
"""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

import baton
from baton._proto.baton.v1 import admin_pb2, admin_pb2_grpc

from conftest import ETCD, Cluster

pytestmark = pytest.mark.skipif(not ETCD.exists(), reason=f"{ETCD} is not installed (etcd-server)")


def names_by_owner(client: baton.Client, prefix: str, per_node: int) -> dict[str, list[str]]:
    """``per_node`` fresh names owned by each member, by node id."""
    out: dict[str, list[str]] = {node_id: [] for node_id, _ in client.members}
    i = 0
    while any(len(v) < per_node for v in out.values()):
        name = f"{prefix}/{uuid.uuid4().hex[:6]}-{i}"
        i += 1
        owner = client.owner_of(name)
        assert owner is not None
        if len(out[owner]) < per_node:
            out[owner].append(name)
    return out


async def listed_on(address: str, name: str) -> bool:
    """Whether the node at ``address`` has ``name`` itself (a List marked as
    forwarded lists only the node's own instances, not the cluster's)."""
    async with grpc.aio.insecure_channel(address) as channel:
        answer = await admin_pb2_grpc.AdminStub(channel).List(
            admin_pb2.ListRequest(prefix=name.encode()), timeout=5,
            metadata=(("baton-forwarded-by", "test"),))
    return any(i.name == name for i in answer.instances)


async def test_each_name_goes_to_its_owner_directly(cluster: Cluster) -> None:
    async with baton.connect(cluster.address("a"), client_name="router") as client:
        assert [i for i, _ in client.members] == ["a", "b", "c"]
        assert dict(client.members) == {i: cluster.address(i) for i in ("a", "b", "c")}
        by_owner = names_by_owner(client, "direct", 2)
        locks = [client.PriorityLock(n) for names in by_owner.values() for n in names]
        for lock in locks:
            await lock.acquire(timeout=5)
        assert client.redirects == 0
        for owner, names in by_owner.items():
            for name in names:
                assert await listed_on(cluster.address(owner), name), (owner, name)
        # One session per node; each hold belongs to its owner's.
        sessions = {lock.hold._session for lock in locks}  # type: ignore[union-attr]
        assert len(sessions) == 3
        sem = client.DynamicBoundedSemaphore(by_owner["c"][0] + "/sem", value=2)
        async with sem:
            assert sem.permits == 1
        for lock in locks:
            await lock.release()


async def test_a_stale_member_list_follows_the_redirect(cluster: Cluster) -> None:
    async with baton.connect(cluster.address("a")) as client:
        name, other = names_by_owner(client, "redirect", 2)["b"]
        # As if the client had not seen b and c join: everything to a.
        client._member_ids, client._member_addresses = [b"a"], [cluster.address("a")]
        client._members_version += 1
        client._revision = 0
        lock = client.RLock(name)
        async with lock:
            assert client.redirects == 1
            assert await listed_on(cluster.address("b"), name)
        # What synchronous methods send is rerouted too (reset(), here).
        client._member_ids, client._member_addresses = [b"a"], [cluster.address("a")]
        client._members_version += 1
        client._revision = 0
        sem = client.PrioritySemaphore(other, value=3)
        assert client.owner_of(sem.name) == "a"
        await sem.reset()  # declared on a (forwarded to b), sent to a, redirected
        assert client.redirects == 2
        assert await listed_on(cluster.address("b"), other)
        assert (await sem.read()).pool == 3
        await asyncio.sleep(0.3)  # the refresh the redirect started
        assert [i for i, _ in client.members] == ["a", "b", "c"]
        # Declared kinds are declared on the owner before use.
        before = client.redirects
        limit = client.AdvancedRateLimit(name + "/rate", rate=5, capacity=5)
        await limit.acquire(timeout=0)
        assert client.redirects == before


async def test_endless_redirects_end_in_an_error(cluster: Cluster) -> None:
    async with baton.connect(cluster.address("a")) as client:
        name = names_by_owner(client, "loop", 1)["b"][0]
        wrong = client._link(cluster.address("a"))
        # A client that, whatever it is told, sends to a node that redirects.
        client._link_for = lambda _: wrong  # type: ignore[method-assign]
        client._follow = lambda _: wrong  # type: ignore[method-assign]
        with pytest.raises(baton.TooManyRedirects, match="redirected 5 times"):
            await client.RLock(name).acquire(timeout=1)
        assert not await listed_on(cluster.address("a"), name)


async def test_mutual_exclusion_between_clients_seeded_on_different_nodes(
        cluster: Cluster) -> None:
    # The second client's first seed does not answer: the next one does.
    seeds = ["127.0.0.1:1", cluster.address("c")]
    async with baton.connect(cluster.address("a")) as x, baton.connect(seeds) as y:
        assert x.members == y.members
        by_owner = names_by_owner(x, "mutex", 1)
        for names in by_owner.values():
            name = names[0]
            async with x.PriorityLock(name):
                with pytest.raises(TimeoutError):
                    await y.PriorityLock(name).acquire(timeout=0.2)
            async with y.PriorityLock(name) as held:
                assert held is None
        # Tasks of both clients on one name: never two inside.
        name = by_owner["b"][0] + "/shared"
        inside = 0

        async def worker(client: baton.Client) -> None:
            nonlocal inside
            lock = client.RLock(name)
            for _ in range(5):
                async with lock:
                    inside += 1
                    assert inside == 1
                    await asyncio.sleep(0.002)
                    inside -= 1

        await asyncio.gather(*(worker(c) for c in (x, y, x, y)))
        assert x.redirects == y.redirects == 0


async def test_a_node_gone_from_the_members_loses_its_holds(cluster: Cluster) -> None:
    async with baton.connect(cluster.address("a")) as client:
        by_owner = names_by_owner(client, "gone", 1)
        on_b, on_c = client.RLock(by_owner["b"][0]), client.RLock(by_owner["c"][0])
        await on_b.acquire(timeout=5)
        await on_c.acquire(timeout=5)
        # As if Cluster had answered without b (a node that lost its etcd lease).
        answer = admin_pb2.ClusterResponse(revision=client._revision + 1, members=[
            admin_pb2.ClusterMember(node_id=i, address=cluster.address(i)) for i in ("a", "c")])
        client._apply_members(answer)
        assert on_b.hold.is_lost and not on_c.hold.is_lost  # type: ignore[union-attr]
        assert "left the Baton cluster" in str(on_b.hold.lost_reason)  # type: ignore[union-attr]
        on_b.release()  # a quiet no-op: lost
        await on_c.release()


async def test_a_killed_node_loses_its_holds_only(cluster: Cluster) -> None:
    async with baton.connect(cluster.address("a"), lease=5) as client:
        by_owner = names_by_owner(client, "kill", 1)
        locks = {owner: client.PriorityLock(names[0]) for owner, names in by_owner.items()}
        for lock in locks.values():
            await lock.acquire(timeout=5)
        holds = {owner: lock.hold for owner, lock in locks.items()}
        cluster.nodes["b"].kill()
        reason = await asyncio.wait_for(holds["b"].wait_lost(), 5)  # type: ignore[union-attr]
        assert isinstance(reason, baton.LeaseLost)
        # b's name goes to a new owner once etcd has expired b's lease: the
        # client retries the hand-off's UNAVAILABLE, never re-acquires on its own.
        again = client.PriorityLock(by_owner["b"][0])
        await again.acquire(timeout=15)
        assert again.fence > holds["b"].fence  # type: ignore[union-attr]
        assert [i for i, _ in client.members] == ["a", "c"]
        assert not holds["a"].is_lost and not holds["c"].is_lost  # type: ignore[union-attr]
        await locks["a"].release()  # still held: the release is answered OK
        await locks["c"].release()
        await again.release()
