"""Fixtures: a real batond on a free loopback port, and asyncio tests.

batond's path: $BATOND, else <repo>/build/server/batond/batond.

``async def`` tests run in a fresh event loop each (no pytest-asyncio
needed), bounded by ``ASYNC_TEST_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # client/python
REPO = PACKAGE_ROOT.parent.parent
sys.path.insert(0, str(PACKAGE_ROOT))  # the package from the tree, installed or not

ASYNC_TEST_TIMEOUT = 30.0


def batond_path() -> Path:
    env = os.environ.get("BATOND")
    return Path(env) if env else REPO / "build" / "server" / "batond" / "batond"


class Batond:
    """One batond process: started on 127.0.0.1:0, its port read from stderr."""

    def __init__(self, data_dir: Path, *flags: str) -> None:
        path = batond_path()
        if not path.exists():
            pytest.fail(f"batond not found at {path}: build it or set BATOND")
        self.proc = subprocess.Popen(
            [str(path), "--listen=127.0.0.1:0", f"--data_dir={data_dir}", "--grace=1s", *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.log: list[str] = []
        lines: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:  # keeps the pipe from filling; hands lines over
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                lines.put(line)
            lines.put(None)

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        while True:
            try:
                line = lines.get(timeout=10)
            except queue.Empty:
                self.proc.kill()
                pytest.fail("batond did not say where it listens within 10 s:\n" + "".join(self.log))
            if line is None:
                pytest.fail("batond exited at start:\n" + "".join(self.log))
            m = re.search(r"listening on (\S+:\d+)", line)
            if m:
                self.address = m.group(1)
                return

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_pipe()

    def _close_pipe(self) -> None:
        self._drain.join(timeout=5)  # it ends at EOF, the process being gone
        if self.proc.stderr is not None and not self._drain.is_alive():
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_pipe()


@pytest.fixture(scope="session")
def batond(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batond]:
    """A batond shared by the whole run (tests use names of their own)."""
    server = Batond(tmp_path_factory.mktemp("batond-data"))
    yield server
    server.stop()


@pytest.fixture
def own_batond(tmp_path: Path) -> Iterator[Batond]:
    """A batond for one test, which may kill it."""
    server = Batond(tmp_path / "data")
    yield server
    server.kill()


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A fresh instance name for the test."""
    test = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    return f"pytest/{test}/{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Runs ``async def`` tests in a new event loop, with a bound."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}

    async def bounded() -> None:
        await asyncio.wait_for(pyfuncitem.obj(**args), ASYNC_TEST_TIMEOUT)

    asyncio.run(bounded())
    return True


# ---------------------------------------------------------------------------
# A cluster: /usr/bin/etcd on a temp dir and three batond nodes on it, as
# tests/integration/cluster_test.cc starts them (2 s leases). Skipped when
# etcd is not installed.

ETCD = Path("/usr/bin/etcd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """etcd on two free loopback ports; ready once GET /health says so."""

    def __init__(self, data_dir: Path) -> None:
        self.client_port = free_port()
        peer_port = free_port()
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{peer_port}"
        self.proc = subprocess.Popen(
            [str(ETCD), f"--data-dir={data_dir}", f"--listen-client-urls={client}",
             f"--advertise-client-urls={client}", f"--listen-peer-urls={peer}",
             f"--initial-advertise-peer-urls={peer}", f"--initial-cluster=default={peer}",
             "--log-level=error"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=1) as answer:
                    if b'"health":"true"' in answer.read():
                        return
            except OSError:
                pass
            time.sleep(0.05)  # polling etcd's start
        self.proc.kill()
        pytest.fail("etcd did not become healthy within 20 s")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


class Cluster:
    """etcd and batond nodes "a", "b", "c"; ``nodes`` by id."""

    def __init__(self, tmp: Path, ids: tuple[str, ...] = ("a", "b", "c")) -> None:
        self.etcd = Etcd(tmp / "etcd")
        self.nodes: dict[str, Batond] = {}
        try:
            for node_id in ids:
                self.nodes[node_id] = Batond(
                    tmp / f"node-{node_id}", "--shards=2", f"--cluster_etcd={self.etcd.endpoint}",
                    f"--cluster_node_id={node_id}", "--cluster_lease_ttl=2s",
                    "--cluster_name=pytest", "--grace=0s")
            self.wait_for_members(list(ids))
        except BaseException:
            self.stop()
            raise

    def address(self, node_id: str) -> str:
        return self.nodes[node_id].address

    def wait_for_members(self, ids: list[str], timeout: float = 15.0) -> None:
        """Waits until every node in ``ids`` lists exactly ``ids`` (Admin.Cluster)."""
        import grpc
        from baton._proto.baton.v1 import admin_pb2, admin_pb2_grpc

        want = sorted(ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = []
            for node_id in ids:
                with grpc.insecure_channel(self.address(node_id)) as channel:
                    try:
                        answer = admin_pb2_grpc.AdminStub(channel).Cluster(
                            admin_pb2.ClusterRequest(), timeout=2)
                        seen.append([m.node_id for m in answer.members])
                    except grpc.RpcError:
                        seen.append(None)
            if all(s == want for s in seen):
                return
            time.sleep(0.05)  # polling the members
        pytest.fail(f"the nodes did not all list {want} within {timeout} s: {seen}")

    def stop(self) -> None:
        for node in self.nodes.values():
            node.kill()
        self.etcd.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """etcd and three batond nodes, shared by a test module (which may kill one last)."""
    if not ETCD.exists():
        pytest.skip(f"{ETCD} is not installed (Debian's etcd-server)")
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()
