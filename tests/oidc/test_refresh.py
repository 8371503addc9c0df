"""Refresh tokens: rotation, the reuse interval, replay detection, lifetimes, scope narrowing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty

OFFLINE = "openid email groups offline_access"


def _tokens(rp: RelyingParty) -> dict:
    response = rp.exchange(rp.login(scope=OFFLINE))
    assert response.status_code == 200, response.text
    return response.json()


def _server(tmp_path, clock, expiry: str = ""):
    return run_dexpy(tmp_path, expiry, clock=clock)


def test_refresh_rotates_and_the_new_token_works(tmp_path, clock):
    with _server(tmp_path, clock) as server:
        rp = RelyingParty(server.issuer)
        first = _tokens(rp)["refresh_token"]
        second = rp.token(grant_type="refresh_token", refresh_token=first).json()
        assert second["refresh_token"] != first
        claims = rp.verify_id_token(second["id_token"])
        assert claims["groups"] == ["team-a", "team-a/admins"]
        third = rp.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
        assert third.status_code == 200


def test_replaying_a_rotated_token_after_the_reuse_interval_revokes_the_family(tmp_path, clock):
    with _server(tmp_path, clock) as server:
        rp = RelyingParty(server.issuer)
        first = _tokens(rp)["refresh_token"]
        second = rp.token(grant_type="refresh_token", refresh_token=first).json()
        clock.advance(timedelta(seconds=10))
        replay = rp.token(grant_type="refresh_token", refresh_token=first)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        # the legitimate successor is revoked too, and so are the access tokens of the grant
        assert rp.token(grant_type="refresh_token", refresh_token=second["refresh_token"]).json()["error"] == "invalid_grant"
        info = rp.http.get(f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"})
        assert info.status_code == 401


def test_within_the_reuse_interval_the_old_token_gets_the_same_successor(tmp_path, clock):
    with _server(tmp_path, clock, "expiry:\n  refreshTokens:\n    reuseInterval: 3s\n") as server:
        rp = RelyingParty(server.issuer)
        first = _tokens(rp)["refresh_token"]
        a = rp.token(grant_type="refresh_token", refresh_token=first).json()["refresh_token"]
        clock.advance(timedelta(seconds=1))
        b = rp.token(grant_type="refresh_token", refresh_token=first).json()["refresh_token"]
        assert a == b


def test_refresh_by_another_client_is_invalid_grant(tmp_path, clock):
    with _server(tmp_path, clock) as server:
        token = _tokens(RelyingParty(server.issuer))["refresh_token"]
        other = RelyingParty(server.issuer, client_id="other-app", client_secret="other-secret")
        response = other.token(grant_type="refresh_token", refresh_token=token)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("value", ["garbage", "", "Cg0wLTM4NS0yODA4OS0wEgRtb2Nr"])
def test_unknown_refresh_token_is_invalid_grant_not_a_500(tmp_path, clock, value):
    with _server(tmp_path, clock) as server:
        response = RelyingParty(server.issuer).token(grant_type="refresh_token", refresh_token=value)
        assert response.status_code == 400
        assert response.json()["error"] in ("invalid_grant", "invalid_request")


def test_expired_refresh_token_is_invalid_grant(tmp_path, clock):
    with _server(tmp_path, clock, "expiry:\n  refreshTokens:\n    absoluteLifetime: 1h\n") as server:
        rp = RelyingParty(server.issuer)
        token = _tokens(rp)["refresh_token"]
        clock.advance(timedelta(hours=2))
        response = rp.token(grant_type="refresh_token", refresh_token=token)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_idle_refresh_token_expires(tmp_path, clock):
    with _server(tmp_path, clock, "expiry:\n  refreshTokens:\n    validIfNotUsedFor: 30m\n") as server:
        rp = RelyingParty(server.issuer)
        token = _tokens(rp)["refresh_token"]
        clock.advance(timedelta(minutes=20))
        token = rp.token(grant_type="refresh_token", refresh_token=token).json()["refresh_token"]
        clock.advance(timedelta(minutes=20))
        assert rp.token(grant_type="refresh_token", refresh_token=token).status_code == 200


def test_refresh_may_narrow_scopes_but_never_widen_them(tmp_path, clock):
    with _server(tmp_path, clock) as server:
        rp = RelyingParty(server.issuer)
        token = _tokens(rp)["refresh_token"]
        wider = rp.token(grant_type="refresh_token", refresh_token=token, scope="openid profile")
        assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
        narrower = rp.token(grant_type="refresh_token", refresh_token=token, scope="openid")
        assert narrower.status_code == 200
        assert "groups" not in rp.verify_id_token(narrower.json()["id_token"])


def test_deleted_user_cannot_refresh(tmp_path, clock):
    import bcrypt

    from dexpy.model import Password

    with _server(tmp_path, clock) as server:
        storage = server.runtime.storage
        storage.create(Password(email="bob@example.com", hash=bcrypt.hashpw(b"bobpw", bcrypt.gensalt(4)),
                                username="bob", user_id="bob-1"))
        rp = RelyingParty(server.issuer)
        token = rp.exchange(rp.login(username="bob@example.com", password="bobpw", scope=OFFLINE)).json()["refresh_token"]
        assert rp.token(grant_type="refresh_token", refresh_token=token).status_code == 200
        storage.delete(Password, "bob@example.com")
        response = rp.token(grant_type="refresh_token", refresh_token=token)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
