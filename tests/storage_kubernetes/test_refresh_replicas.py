"""Refreshes across two dexpy replicas on one cluster. A replica accepts a refresh from its own copy of the
token (one API request instead of three), which may be stale: these are the cases where it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from dexpy.config import load_config
from dexpy.storage.kubernetes.crds import CRD_DIR
from tests.fixtures.dexpy_server import serve_config, write_config
from tests.fixtures.kubeapi.fixture import KubeAPIFixture, start_fake
from tests.fixtures.rp import RelyingParty


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[KubeAPIFixture, RelyingParty, RelyingParty]]:
    fake = start_fake()
    try:
        fake.create_crds(CRD_DIR)
        base = fake.dexpy_base_yaml(tmp_path)
        with ExitStack() as stack:
            parties = []
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                server = stack.enter_context(serve_config(load_config(str(write_config(tmp_path / name, base=base)))))
                parties.append(RelyingParty(server.issuer))
            yield fake, parties[0], parties[1]
    finally:
        fake.stop()


def refresh(rp: RelyingParty, value: str):  # noqa: ANN201 - an httpx.Response
    return rp.token(grant_type="refresh_token", refresh_token=value)


def test_a_refresh_on_the_replica_that_last_wrote_the_token_is_one_api_request(replicas) -> None:
    fake, a, _ = replicas
    value = a.login_tokens()["refresh_token"]
    fake.clear_log()
    answer = refresh(a, value)
    assert answer.status_code == 200, answer.text
    assert [r.verb for r in fake.requests if r.resource == "refreshtokens"] == ["update"]
    assert refresh(a, answer.json()["refresh_token"]).status_code == 200


def test_the_current_value_works_on_a_replica_whose_copy_is_stale(replicas) -> None:
    fake, a, b = replicas
    first = a.login_tokens()["refresh_token"]
    second = refresh(b, first).json()["refresh_token"]  # a's copy still holds `first`

    answer = refresh(a, second)

    assert answer.status_code == 200, answer.text
    assert refresh(b, answer.json()["refresh_token"]).status_code == 200


def test_a_replay_on_a_replica_whose_copy_is_stale_revokes_the_grant(replicas) -> None:
    """Replica a still holds the token as it created it; b rotated it since. The old value presented to a
    matches a's copy, so a starts the rotation — whose compare-and-swap finds the value rotated away."""
    fake, a, b = replicas
    first = a.login_tokens()["refresh_token"]
    second = refresh(b, first).json()["refresh_token"]

    replay = refresh(a, first)

    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(b, second).json()["error"] == "invalid_grant"  # the whole grant is revoked
