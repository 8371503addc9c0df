"""Token introspection (RFC 7662) at /token/introspect, over HTTP; unlike Dex, clients must authenticate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from dexpy.oidc.wire import decode_subject
from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty

OFFLINE = "openid email profile offline_access"
ADMIN_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"


@pytest.fixture
def server(tmp_path, clock):
    expiry = "expiry:\n  idTokens: 1h\n  refreshTokens:\n    absoluteLifetime: 48h\n    validIfNotUsedFor: 12h\n"
    with run_dexpy(tmp_path, expiry, clock=clock) as running:
        yield running


def test_an_access_token_is_described(server, clock):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    now = int(clock().timestamp())
    response = rp.introspect(tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True and body["token_type"] == "Bearer"
    assert body["client_id"] == body["aud"] == "example-app" and body["iss"] == server.issuer
    assert body["scope"].split() == OFFLINE.split()
    assert decode_subject(body["sub"]) == (ADMIN_ID, "local")
    assert (body["iat"], body["exp"]) == (now, now + 3600)
    assert body["username"] == "admin"


def test_a_refresh_token_is_described(server, clock):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    created = int(clock().timestamp())
    clock.advance(timedelta(hours=1))
    body = rp.introspect(tokens["refresh_token"], auth="post").json()
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert body["client_id"] == "example-app" and body["scope"].split() == OFFLINE.split()
    assert decode_subject(body["sub"]) == (ADMIN_ID, "local")
    assert body["iat"] == created
    assert body["exp"] == created + 12 * 3600  # idle limit comes before the 48 h absolute one


def test_expired_tokens_are_inactive(server, clock):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    clock.advance(timedelta(hours=13))  # past the access token's 1 h and the refresh token's 12 h idle limit
    assert rp.introspect(tokens["access_token"]).json() == {"active": False}
    assert rp.introspect(tokens["refresh_token"]).json() == {"active": False}


def test_revoked_and_rotated_away_tokens_are_inactive(server):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    rotated = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert rp.introspect(tokens["refresh_token"]).json() == {"active": False}
    assert rp.introspect(rotated["refresh_token"]).json()["active"] is True
    assert rp.revoke(rotated["refresh_token"]).status_code == 200
    for value in (rotated["refresh_token"], rotated["access_token"], tokens["access_token"]):
        assert rp.introspect(value).json() == {"active": False}


def _foreign_token(issuer: str) -> str:
    """A well-formed access token with our issuer name, signed by a key we never published."""
    key = RSAKey.generate_key(2048)
    now = int(datetime.now(timezone.utc).timestamp())
    claims = {"iss": issuer, "sub": "x", "aud": "example-app", "iat": now, "exp": now + 600, "jti": "j"}
    return jwt.encode({"alg": "RS256", "kid": "foreign"}, claims, key)


@pytest.mark.parametrize("value", ["garbage", "a.b.c", "Cg0wLTM4NS0yODA4OS0wEgRtb2Nr", "x" * 20000, "FOREIGN"])
def test_unknown_malformed_and_foreign_tokens_are_inactive(server, value):
    rp = RelyingParty(server.issuer)
    value = _foreign_token(server.issuer) if value == "FOREIGN" else value
    response = rp.introspect(value)
    assert response.status_code == 200 and response.json() == {"active": False}


def test_an_id_token_is_not_introspected(server):
    rp = RelyingParty(server.issuer)
    assert rp.introspect(rp.login_tokens()["id_token"]).json() == {"active": False}


def test_a_client_sees_only_its_own_tokens_or_those_naming_it(server, tmp_path):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    other = RelyingParty(server.issuer, client_id="other-app", client_secret="other-secret")
    assert other.introspect(tokens["access_token"]).json() == {"active": False}
    assert other.introspect(tokens["refresh_token"]).json() == {"active": False}


@pytest.mark.parametrize("auth", [None, ("example-app", "wrong-secret"), ("no-such-client", "x")])
def test_the_caller_must_authenticate_as_a_client(server, auth):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    response = rp.http.post(rp.discovery()["introspection_endpoint"], data={"token": tokens["access_token"]},
                            auth=auth)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert "active" not in response.json()
