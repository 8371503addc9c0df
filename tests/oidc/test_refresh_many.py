"""Several refresh tokens per user and client (Dex #981): each login keeps its own, up to a cap per user."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dexpy.model import OfflineSessions, RefreshToken, offline_session_key
from dexpy.oidc.offline import MAX_REFRESH_PER_USER
from dexpy.oidc.wire import decode_refresh_token, encode_refresh_token
from tests.fixtures.dexpy_server import CLIENT_SECRET, run_dexpy
from tests.fixtures.rp import RelyingParty

ADMIN_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"


@pytest.fixture
def server(tmp_path, clock):
    with run_dexpy(tmp_path, "expiry:\n  refreshTokens:\n    absoluteLifetime: 24h\n", clock=clock) as running:
        yield running


def _device(server, clock, client: str = "example-app") -> str:
    """A login from a new device (its own browser); the refresh token it gets."""
    rp = (RelyingParty(server.issuer) if client == "example-app" else
          RelyingParty(server.issuer, client_id=client, client_secret="other-secret",
                       redirect_uri="http://127.0.0.1:5556/other"))
    clock.advance(timedelta(seconds=1))
    return str(rp.login_tokens()["refresh_token"])


def _refresh(server, value: str):
    return RelyingParty(server.issuer).token(grant_type="refresh_token", refresh_token=value)


def _id(value: str) -> str:
    return decode_refresh_token(value)[0]


def _offline(server) -> OfflineSessions:
    return server.runtime.storage.get(OfflineSessions, offline_session_key(ADMIN_ID, "local"))


def test_each_login_keeps_its_own_refresh_token(server, clock):
    laptop, phone = _device(server, clock), _device(server, clock)
    issuance = server.runtime.provider.issuance
    assert [t.id for t in issuance.list_user_refresh(ADMIN_ID, "local")] == [_id(laptop), _id(phone)]
    assert _refresh(server, laptop).status_code == 200
    assert _refresh(server, phone).status_code == 200
    # Dex's view still names one token per client: the newest
    assert _offline(server).refresh["example-app"].id == _id(phone)


def test_revoking_one_device_leaves_the_other(server, clock):
    laptop, phone = _device(server, clock), _device(server, clock)
    assert RelyingParty(server.issuer).revoke(phone).status_code == 200
    assert _refresh(server, phone).json()["error"] == "invalid_grant"
    assert _refresh(server, laptop).status_code == 200
    offline = _offline(server)
    assert list(offline.tokens) == [_id(laptop)] and offline.refresh["example-app"].id == _id(laptop)


def test_the_oldest_token_is_dropped_beyond_the_cap(server, clock):
    tokens = [_device(server, clock) for _ in range(MAX_REFRESH_PER_USER + 1)]
    assert _refresh(server, tokens[0]).json()["error"] == "invalid_grant"
    listed = server.runtime.provider.issuance.list_user_refresh(ADMIN_ID, "local")
    assert [t.id for t in listed] == [_id(t) for t in tokens[1:]]
    assert len(_offline(server).tokens) == MAX_REFRESH_PER_USER
    assert _refresh(server, tokens[1]).status_code == 200


@pytest.mark.parametrize("client_id, left", [("example-app", ["other-app"]), (None, [])])
def test_revoking_a_users_tokens_by_client_or_all(server, clock, client_id, left):
    tokens = {"example-app": [_device(server, clock), _device(server, clock)],
              "other-app": [_device(server, clock, "other-app")]}
    issuance = server.runtime.provider.issuance
    assert issuance.revoke_user_refresh(ADMIN_ID, "local", client_id) == (2 if client_id else 3)
    assert [t.client_id for t in issuance.list_user_refresh(ADMIN_ID, "local")] == left
    for client, values in tokens.items():
        other = RelyingParty(server.issuer, client_id=client,
                             client_secret="other-secret" if client == "other-app" else CLIENT_SECRET)
        for value in values:
            status = other.token(grant_type="refresh_token", refresh_token=value).status_code
            assert status == (200 if client in left else 400)


@pytest.mark.parametrize("how", ["expired", "unknown", "revoked", "rotated_away", "connector_removed"])
def test_a_refresh_token_that_no_longer_works_is_invalid_grant(server, clock, how):
    value = _device(server, clock)
    if how == "connector_removed":  # the connector that logged the user in is gone from the configuration
        server.runtime.storage.update(RefreshToken, decode_refresh_token(value)[0],
                                      lambda token: replace(token, connector_id="removed"))
    elif how == "expired":
        clock.advance(timedelta(hours=25))
    elif how == "unknown":
        value = encode_refresh_token("no-such-refresh-id", decode_refresh_token(value)[1])
    elif how == "revoked":
        server.runtime.provider.issuance.revoke_user_refresh(ADMIN_ID, "local")
    else:
        assert _refresh(server, value).status_code == 200
    response = _refresh(server, value)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
