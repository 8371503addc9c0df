"""The authorization-code flow over real HTTP, driven the way a relying party drives it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from dexpy.clock import FrozenClock
from dexpy.oidc.wire import encode_subject
from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty

ADMIN_SUB = encode_subject("08a8684b-db88-4b73-90a9-3cd1661f5466", "local")


@pytest.fixture
def dexpy(tmp_path):
    with run_dexpy(tmp_path) as server:
        yield server


@pytest.fixture
def rp(dexpy):
    return RelyingParty(dexpy.issuer)


def test_discovery_names_the_endpoints_under_the_issuer(rp):
    doc = rp.discovery()
    assert doc["issuer"] == rp.issuer
    assert doc["token_endpoint"] == f"{rp.issuer}/token"
    assert doc["jwks_uri"] == f"{rp.issuer}/keys"
    assert "S256" in doc["code_challenge_methods_supported"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_login_with_pkce_yields_verifiable_id_token_and_userinfo(rp):
    login = rp.login(scope="openid email profile groups")
    assert login.location.startswith("http://127.0.0.1:5555/callback?")
    assert login.params["state"] == login.state
    response = rp.exchange(login)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 86400
    claims = rp.verify_id_token(body["id_token"], nonce=login.nonce)
    assert claims["sub"] == ADMIN_SUB
    assert claims["email"] == "admin@example.com" and claims["email_verified"] is True
    assert claims["groups"] == ["team-a", "team-a/admins"]
    assert claims["name"] == "admin" and claims["preferred_username"] == "admin"
    assert "at_hash" in claims and "c_hash" in claims
    assert "refresh_token" not in body  # offline_access was not requested

    info = rp.http.get(rp.discovery()["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json()["sub"] == ADMIN_SUB and info.json()["email"] == "admin@example.com"


def test_client_secret_post_is_accepted(rp):
    login = rp.login()
    assert rp.exchange(login, auth="post").status_code == 200


def test_wrong_client_secret_is_invalid_client(rp):
    login = rp.login()
    rp.client_secret = "wrong"
    response = rp.exchange(login)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_code_replay_fails_and_revokes_what_the_code_issued(rp):
    login = rp.login(scope="openid email offline_access")
    first = rp.exchange(login).json()
    replay = rp.exchange(login)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refresh = rp.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"
    info = rp.http.get(f"{rp.issuer}/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert info.status_code == 401 and info.json()["error"] == "invalid_token"


def test_wrong_pkce_verifier_is_invalid_grant(rp):
    login = rp.login()
    response = rp.exchange(login, code_verifier="x" * 50)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_missing_pkce_verifier_is_refused(rp):
    login = rp.login()
    login.verifier = ""
    response = rp.exchange(login)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_redirect_uri_must_match_the_one_used_at_auth(rp):
    login = rp.login()
    response = rp.exchange(login, redirect_uri="http://127.0.0.1:5555/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_of_another_client_is_invalid_grant(rp, dexpy):
    login = rp.login()
    other = RelyingParty(dexpy.issuer, client_id="other-app", client_secret="other-secret")
    response = other.exchange(login)
    assert response.json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_shows_an_error_page_and_never_redirects(rp):
    response = rp.browse(rp.auth_url(redirect_uri="https://evil.example/callback"))
    assert response.status_code == 400
    assert "Unregistered redirect_uri" in response.text
    assert "location" not in response.headers


def test_unknown_client_shows_an_error_page(rp):
    rp.client_id = "nobody"
    response = rp.browse(rp.auth_url())
    assert response.status_code == 404 and "Invalid client_id" in response.text


@pytest.mark.parametrize(("scope", "error"), [("openid bogus", "invalid_scope"), ("email", "invalid_scope")])
def test_bad_scope_is_redirected_back_with_state(rp, scope, error):
    response = rp.browse(rp.auth_url(scope=scope, state="s1"))
    assert response.status_code == 303
    params = parse_qs(urlsplit(response.headers["location"]).query)
    assert params["error"] == [error] and params["state"] == ["s1"]


def test_unsupported_response_type_is_redirected(rp):
    response = rp.browse(rp.auth_url(response_type="token", state="s2"))
    params = parse_qs(urlsplit(response.headers["location"]).query)
    assert params["error"] == ["unsupported_response_type"] and params["state"] == ["s2"]


def test_rejecting_approval_redirects_access_denied(rp):
    login = rp.login(approve=False)
    assert login.params["error"] == "access_denied" and login.params["state"] == login.state


def test_wrong_password_shows_the_form_again_without_saying_which_part_was_wrong(rp):
    response = rp.browse(rp.auth_url(state="s", nonce="n"))
    from tests.fixtures.rp import form_action, form_fields

    for user in ("admin@example.com", "nobody@example.com"):
        answer = rp.browse(form_action(response.text, str(response.url)), method="POST",
                           data={**form_fields(response.text), "login": user, "password": "wrong"})
        assert answer.status_code == 401
        assert "Invalid" in answer.text and "nobody" not in answer.text.replace(f'value="{user}"', "")


def test_password_form_without_csrf_token_is_refused(rp):
    response = rp.browse(rp.auth_url(state="s", nonce="n"))
    from tests.fixtures.rp import form_action

    answer = rp.browse(form_action(response.text, str(response.url)), method="POST",
                       data={"login": "admin@example.com", "password": "password"})
    assert answer.status_code == 400 and "expired" in answer.text


def test_login_state_from_another_browser_is_refused(rp, dexpy):
    response = rp.browse(rp.auth_url(state="s", nonce="n"))
    stranger = RelyingParty(dexpy.issuer)
    answer = stranger.browse(str(response.url))
    assert answer.status_code == 400 and "start again" in answer.text


def test_an_auth_visit_that_never_logs_in_writes_nothing(rp, dexpy):
    storage = dexpy.runtime.storage
    from dexpy.model import RECORD_KINDS

    before = {kind: len(storage.list(kind)) for kind in RECORD_KINDS}
    for _ in range(5):
        rp.browse(rp.auth_url(state="s"))
    assert {kind: len(storage.list(kind)) for kind in RECORD_KINDS} == before


def test_security_headers_and_cookie_flags(rp):
    response = rp.browser.get(rp.auth_url(state="s"))
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_expired_code_is_invalid_grant(tmp_path):
    clock = FrozenClock()
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        login = rp.login()
        clock.advance(timedelta(minutes=11))
        response = rp.exchange(login)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("prompt", ['"', "bogus\\", "\x01"])
def test_unusable_prompt_is_invalid_request_not_a_500(rp, prompt):
    response = rp.browse(rp.auth_url(prompt=prompt, state="s3"))
    assert response.status_code == 303
    params = parse_qs(urlsplit(response.headers["location"]).query)
    assert params["error"] == ["invalid_request"] and params["state"] == ["s3"]


def test_authorization_responses_name_the_issuer_rfc_9207(rp):
    assert rp.discovery()["authorization_response_iss_parameter_supported"] is True
    assert rp.login().params["iss"] == rp.issuer
    refused = rp.browse(rp.auth_url(scope="openid bogus", state="s4"))
    assert parse_qs(urlsplit(refused.headers["location"]).query)["iss"] == [rp.issuer]
