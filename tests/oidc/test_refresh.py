"""Refresh tokens: rotation, the reuse interval, replay detection, lifetimes, scope narrowing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest

from dexpy.clock import FrozenClock
from dexpy.model import RefreshToken
from tests.fixtures.dexpy_server import DexpyServer, run_dexpy
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


@contextmanager
def _unrotated_token(tmp_path, clock, valid_if_not_used_for: str) -> Iterator[tuple[DexpyServer, RelyingParty, str]]:
    """A server with rotation disabled, and a relying party holding a refresh token from it."""
    expiry = f"expiry:\n  refreshTokens:\n    disableRotation: true\n    validIfNotUsedFor: {valid_if_not_used_for}\n"
    with _server(tmp_path, clock, expiry) as server:
        rp = RelyingParty(server.issuer)
        yield server, rp, _tokens(rp)["refresh_token"]


def test_without_rotation_the_value_stays_and_its_use_is_recorded_once_a_minute(tmp_path, clock):
    with _unrotated_token(tmp_path, clock, "20m") as (server, rp, value):
        created = clock()

        def refreshed_last_used():
            answer = rp.token(grant_type="refresh_token", refresh_token=value)
            assert answer.status_code == 200 and answer.json()["refresh_token"] == value, answer.text
            [token] = server.runtime.storage.list(RefreshToken)
            return token.last_used

        clock.advance(timedelta(seconds=30))
        assert refreshed_last_used() == created  # not written again within the minute
        clock.advance(timedelta(seconds=31))
        assert refreshed_last_used() == clock()
        clock.advance(timedelta(minutes=19, seconds=59))
        assert refreshed_last_used() == clock()  # idle for under 20 minutes by the record: still valid
        clock.advance(timedelta(minutes=20, seconds=1))
        expired = rp.token(grant_type="refresh_token", refresh_token=value)
        assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_without_rotation_a_short_idle_lifetime_records_use_more_often(tmp_path, clock):
    with _unrotated_token(tmp_path, clock, "1m") as (_, rp, value):
        for _ in range(5):  # one use every 40 s keeps it alive: each is recorded (a tenth of 1 m is 6 s)
            clock.advance(timedelta(seconds=40))
            assert rp.token(grant_type="refresh_token", refresh_token=value).status_code == 200


class _TickingClock(FrozenClock):
    """Moves one second on every read, so that claims read from two readings of "now" would differ."""

    def __call__(self) -> datetime:
        self.advance(timedelta(seconds=1))
        return self.now


def test_the_access_token_and_id_token_of_one_answer_share_their_issue_time(tmp_path, clock):
    with _server(tmp_path, _TickingClock(clock.now - timedelta(minutes=5))) as server:
        rp = RelyingParty(server.issuer)
        issued = _tokens(rp)
        refreshed = rp.token(grant_type="refresh_token", refresh_token=issued["refresh_token"]).json()
        for body in (issued, refreshed):
            id_claims = rp.verify_id_token(body["id_token"])
            access_claims = rp.verify_id_token(body["access_token"])  # a JWT signed by the same keys, for the client
            assert (access_claims["iat"], access_claims["exp"]) == (id_claims["iat"], id_claims["exp"])
            assert access_claims["sub"] == id_claims["sub"]
