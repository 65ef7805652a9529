"""--auth_file: the Python client sends its bearer token (token= or
$BATON_TOKEN); without one no session opens, and outside its grants a
request is refused with PermissionDenied while the session goes on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import baton
from conftest import Batond

PAYMENTS = "payments-token-0123456789abcdef"
AUTH_FILE = f"""principals:
  - name: payments
    tokens: ["{PAYMENTS}"]
    grants: {{payments: [use]}}
"""


@pytest.fixture(scope="module")
def auth_batond(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batond]:
    path = tmp_path_factory.mktemp("auth") / "auth.yaml"
    path.write_text(AUTH_FILE)
    server = Batond(tmp_path_factory.mktemp("auth-data"), "--shards=1", f"--auth_file={path}")
    yield server
    server.stop()


async def test_a_token_opens_a_session_in_its_namespace(auth_batond: Batond) -> None:
    async with baton.connect(auth_batond.address, token=PAYMENTS) as client:
        lock = client.PriorityLock("payments/py-lock")
        async with lock:
            assert lock.fence > 0
        with pytest.raises(baton.PermissionDenied, match="namespace 'search'") as refused:
            await client.PriorityLock("search/py-lock").acquire()
        assert isinstance(refused.value, PermissionError)
        # The session goes on.
        async with client.PriorityLock("payments/py-lock"):
            pass


async def test_the_token_may_come_from_the_environment(auth_batond: Batond,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_TOKEN", PAYMENTS)
    async with baton.connect(auth_batond.address) as client:
        async with client.PriorityLock("payments/py-env"):
            pass


async def test_without_a_known_token_no_session(auth_batond: Batond,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_TOKEN", raising=False)
    for token in (None, "not-a-token-of-the-file"):
        with pytest.raises(baton.Unauthenticated, match="authorization"):
            async with baton.connect(auth_batond.address, token=token, connect_timeout=2):
                pass


def test_a_token_that_cannot_be_a_header_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="token"):
        baton.connect("127.0.0.1:1", token="has space")
