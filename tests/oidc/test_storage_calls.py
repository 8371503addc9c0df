"""What one request costs the store: the storage calls of a refresh, of client_credentials and of a login, pinned
so that a change adding a round trip per request is seen (docs/performance.md), and the Kubernetes
backend answering "not revoked" from its watch cache."""

from __future__ import annotations

import time
from datetime import timedelta
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dexpy.config import load_config
from dexpy.model import Revocation
from dexpy.runtime import build_storage
from dexpy.storage import NotFound, Storage
from tests.fixtures.dexpy_server import BASE_YAML, serve_config, write_config
from tests.fixtures.kubeapi.fixture import KubeAPIFixture
from tests.fixtures.rp import RelyingParty
from tests.storage.samples import T0
from tests.storage_kubernetes.conftest import OpenStore, kube, kube_api, open_store  # noqa: F401


class CountingStorage:
    """The store `dexpy serve` builds, recording each call as (verb, record kind)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls: Counter[tuple[str, str]] = Counter()

    def __getattr__(self, verb: str) -> Any:
        method = getattr(self.inner, verb)
        if not callable(method):
            return method

        def counted(*args: Any) -> Any:
            kind = args[0] if args and isinstance(args[0], type) else type(args[0]) if args else type(None)
            self.calls[(verb, kind.__name__)] += 1
            return method(*args)

        return counted


@pytest.fixture
def counted(tmp_path: Path, clock) -> Iterator[tuple[CountingStorage, RelyingParty, str]]:
    config = load_config(str(write_config(tmp_path)))
    storage = CountingStorage(build_storage(config))
    with serve_config(config, storage=storage, clock=clock) as server:  # type: ignore[arg-type]
        yield storage, RelyingParty(server.issuer), server.issuer


def test_a_refresh_makes_seven_storage_calls(counted) -> None:
    storage, rp, _ = counted
    first = rp.exchange(rp.login(scope="openid email groups offline_access")).json()["refresh_token"]
    storage.calls.clear()
    response = rp.token(grant_type="refresh_token", refresh_token=first)
    assert response.status_code == 200, response.text
    assert storage.calls == {
        ("get_many", "FailureCounter"): 1,  # client and IP lockout counters, one read (docs/performance.md)
        ("get", "Client"): 1,
        ("get_possibly_stale", "RefreshToken"): 1,  # confirmed by the rotation's compare-and-swap
        ("get", "Revocation"): 1,  # the login session's
        ("get", "ConnectorRecord"): 1,
        ("get", "Password"): 1,  # the local connector's refresh: the user still exists
        ("update", "RefreshToken"): 1,  # the rotation's compare-and-swap
    }


def _refresh_calls_without_rotation(tmp_path: Path, clock, base: str = BASE_YAML) -> Counter[tuple[str, str]]:
    """The storage calls of one refresh, within a minute of the login, on a server that does not rotate."""
    unrotated = "expiry:\n  refreshTokens:\n    disableRotation: true\n"
    config = load_config(str(write_config(tmp_path, unrotated, base=base)))
    storage = CountingStorage(build_storage(config))
    with serve_config(config, storage=storage, clock=clock) as server:  # type: ignore[arg-type]
        rp = RelyingParty(server.issuer)
        value = rp.exchange(rp.login(scope="openid email offline_access")).json()["refresh_token"]
        storage.calls.clear()
        response = rp.token(grant_type="refresh_token", refresh_token=value)
        assert response.status_code == 200 and response.json()["refresh_token"] == value, response.text
    return storage.calls


def test_without_rotation_a_refresh_writes_nothing(tmp_path: Path, clock) -> None:
    """The token read from the store itself needs no compare-and-swap: nothing changes, nothing is written."""
    calls = _refresh_calls_without_rotation(tmp_path, clock)
    assert ("update", "RefreshToken") not in calls
    assert calls[("get_possibly_stale", "RefreshToken")] == 1


def test_without_rotation_a_copy_from_the_watch_cache_is_still_confirmed(tmp_path: Path, clock,
                                                                          kube: KubeAPIFixture) -> None:  # noqa: F811
    """On Kubernetes the token may come from this replica's cache, which another replica's revocation may not
    have reached: the compare-and-swap update confirms the token still exists before tokens are issued."""
    calls = _refresh_calls_without_rotation(tmp_path, clock, kube.dexpy_base_yaml(tmp_path))
    assert calls[("update", "RefreshToken")] == 1


def test_a_login_lists_the_connectors_on_the_two_pages_that_show_them(counted) -> None:
    """/auth, to choose among them (here it goes straight on, as there is one); the password form, for its
    back link. The other pages check one connector by its record."""
    storage, rp, _ = counted
    storage.calls.clear()  # start-up opened every connector
    rp.login()
    assert storage.calls[("list", "ConnectorRecord")] == 2


def test_client_credentials_makes_two_storage_calls(counted) -> None:
    storage, rp, _ = counted
    storage.calls.clear()
    response = rp.token(grant_type="client_credentials", scope="openid")
    assert response.status_code == 200, response.text
    assert storage.calls == {("get_many", "FailureCounter"): 1, ("get", "Client"): 1}


def test_an_absent_revocation_is_answered_from_the_watch_cache(kube: KubeAPIFixture, open_store: OpenStore) -> None:  # noqa: F811
    revoker, other = open_store(), open_store()
    assert other.wait_synced(5)
    kube.clear_log()
    for _ in range(20):
        with pytest.raises(NotFound):
            other.get(Revocation, "grant-1")
    assert kube.count(resource="revocations", verb="get") == 0
    revoker.create(Revocation(id="grant-1", expiry=T0 + timedelta(hours=1)))
    assert revoker.get(Revocation, "grant-1").id == "grant-1"  # at once on the replica that revoked
    deadline = time.monotonic() + 5
    while not _present(other, "grant-1"):  # on the others within the watch's delay
        assert time.monotonic() < deadline, "the revocation never reached the other replica"
        time.sleep(0.01)


def _present(storage: Storage, key: str) -> bool:
    try:
        storage.get(Revocation, key)
    except NotFound:
        return False
    return True
