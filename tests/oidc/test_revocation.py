"""Token revocation (RFC 7009) at /token/revoke, over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty

OFFLINE = "openid email profile offline_access"


@pytest.fixture
def server(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as running:
        yield running


def _userinfo(rp: RelyingParty, access_token: str) -> int:
    return rp.http.get(rp.discovery()["userinfo_endpoint"],
                       headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_revoking_a_refresh_token_ends_its_grant_everywhere(server):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    refreshed = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert _userinfo(rp, refreshed["access_token"]) == 200

    response = rp.revoke(refreshed["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"

    again = rp.token(grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert _userinfo(rp, tokens["access_token"]) == 401
    assert _userinfo(rp, refreshed["access_token"]) == 401
    assert _userinfo(rp, refreshed["id_token"]) == 401  # an ID token is no bearer token: nothing to revoke it by
    assert rp.introspect(refreshed["access_token"]).json() == {"active": False}


def test_revoking_an_access_token_stops_only_that_token(server):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    assert rp.revoke(tokens["access_token"], auth="post").status_code == 200
    assert _userinfo(rp, tokens["access_token"]) == 401

    refreshed = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert _userinfo(rp, refreshed.json()["access_token"]) == 200


@pytest.mark.parametrize("hint", ["access_token", "bogus_type", ""])
def test_a_wrong_or_unknown_hint_does_not_stop_revocation(server, hint):
    rp = RelyingParty(server.issuer)
    refresh = rp.login_tokens()["refresh_token"]
    assert rp.revoke(refresh, token_type_hint=hint).status_code == 200
    assert rp.token(grant_type="refresh_token", refresh_token=refresh).json()["error"] == "invalid_grant"


def test_a_public_client_revokes_with_its_client_id(server):
    kubectl = RelyingParty(server.issuer, client_id="kubectl", client_secret="",
                           redirect_uri="http://127.0.0.1:8000/callback")
    response = kubectl.token(auth="none", grant_type="authorization_code", **_code_form(kubectl))
    refresh = response.json()["refresh_token"]
    assert kubectl.revoke(refresh, auth="none").status_code == 200
    refused = kubectl.token(auth="none", grant_type="refresh_token", refresh_token=refresh)
    assert refused.json()["error"] == "invalid_grant"


def _code_form(rp: RelyingParty) -> dict[str, str]:
    login = rp.login(scope=OFFLINE)
    return {"code": login.code, "redirect_uri": rp.redirect_uri, "code_verifier": login.verifier}


def test_a_token_of_another_client_is_refused_and_stays_valid(server):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    other = RelyingParty(server.issuer, client_id="other-app", client_secret="other-secret")
    for value in (tokens["refresh_token"], tokens["access_token"]):
        response = other.revoke(value)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert _userinfo(rp, tokens["access_token"]) == 200
    assert rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 200


def test_unknown_expired_and_already_revoked_tokens_are_answered_200(server, clock):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    assert rp.revoke(tokens["refresh_token"]).status_code == 200
    assert rp.revoke(tokens["refresh_token"]).status_code == 200  # already revoked
    for value in ("garbage", "a.b.c", "Cg0wLTM4NS0yODA4OS0wEgRtb2Nr"):
        assert rp.revoke(value).status_code == 200
    later = rp.login_tokens()
    clock.advance(timedelta(hours=25))  # past the access token's lifetime
    assert rp.revoke(later["access_token"]).status_code == 200


def test_an_id_token_is_an_unsupported_token_type(server):
    rp = RelyingParty(server.issuer)
    response = rp.revoke(rp.login_tokens()["id_token"])
    assert response.status_code == 400 and response.json()["error"] == "unsupported_token_type"


def test_missing_token_is_invalid_request(server):
    response = RelyingParty(server.issuer).post_as_client("revocation_endpoint")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("auth", [None, ("example-app", "wrong-secret"), ("no-such-client", "x")])
def test_the_client_must_authenticate(server, auth):
    rp = RelyingParty(server.issuer)
    tokens = rp.login_tokens()
    response = rp.http.post(rp.discovery()["revocation_endpoint"], data={"token": tokens["refresh_token"]}, auth=auth)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 200
