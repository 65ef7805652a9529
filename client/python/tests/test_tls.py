"""TLS and mTLS: a batond with --tls_* flags, certificates made by openssl.

The certificates come from tests/testing/make_test_certs.sh (the C++ and
container tests use the same script).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import baton
from conftest import REPO, Batond


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(REPO / "tests" / "testing" / "make_test_certs.sh"), str(path)],
                   check=True)
    return path


@pytest.fixture(scope="module")
def mtls_batond(tmp_path_factory: pytest.TempPathFactory, certs: Path) -> Iterator[Batond]:
    server = Batond(tmp_path_factory.mktemp("tls-data"), "--shards=1",
                    f"--tls_cert_file={certs / 'server.crt'}",
                    f"--tls_key_file={certs / 'server.key'}",
                    f"--tls_client_ca_file={certs / 'ca.crt'}")
    yield server
    server.stop()


async def test_mtls_client_holds_a_lock(mtls_batond: Batond, certs: Path, name: str) -> None:
    async with baton.connect(mtls_batond.address, tls_ca=certs / "ca.crt",
                             tls_cert=str(certs / "client.crt"),
                             tls_key=(certs / "client.key").read_bytes(),
                             tls_server_name="localhost") as client:
        lock = client.PriorityLock(name)
        async with lock:
            assert lock.fence > 0


async def test_without_a_trusted_client_certificate_no_session(mtls_batond: Batond,
                                                               certs: Path) -> None:
    for kwargs in ({},  # plaintext
                   {"tls_ca": certs / "ca.crt"},  # TLS, no client certificate
                   {"tls_ca": certs / "ca.crt", "tls_cert": certs / "other-client.crt",
                    "tls_key": certs / "other-client.key"}):
        with pytest.raises(baton.Unavailable):
            async with baton.connect(mtls_batond.address, connect_timeout=0.5, **kwargs):
                pass


def test_tls_arguments_are_checked_at_once(certs: Path) -> None:
    with pytest.raises(ValueError, match="tls_key is not set"):
        baton.connect("127.0.0.1:1", tls_cert=certs / "client.crt")
    with pytest.raises(ValueError, match="tls_ca: cannot read"):
        baton.connect("127.0.0.1:1", tls_ca="/nonexistent/ca.crt")
