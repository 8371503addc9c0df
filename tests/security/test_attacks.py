"""RFC 9700 attacks against a real dexpy over HTTP: redirect URI manipulation, PKCE downgrade, code and refresh
token replay and substitution, state and nonce, forged JWTs, and LDAP injection through the login form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from joserfc.errors import InvalidClaimError

from tests.connectors.conftest import dex_example_config
from tests.fixtures.dexpy_server import RP_REDIRECT, run_dexpy
from tests.fixtures.rp import RelyingParty
from tests.fixtures.slapd import Slapd
from tests.security.conftest import NO_RATE_LIMIT, comparable, submit_password

SCOPES = "openid email profile offline_access"

BAD_REDIRECTS = [
    RP_REDIRECT + "x",                                   # prefix match
    RP_REDIRECT + "/",
    "http://127.0.0.1:5555/callbac",                     # suffix cut
    RP_REDIRECT + "/../evil",                            # path traversal
    RP_REDIRECT + "/%2e%2e/evil",
    "http://127.0.0.1:5555/callback%2F..%2Fevil",
    "http://127.0.0.1:5555@evil.example/callback",       # userinfo: the host is evil.example
    "http://127.0.0.1:5555/callback@evil.example",
    "http://evil.example\\@127.0.0.1:5555/callback",
    RP_REDIRECT + "#fragment",
    "HTTP://127.0.0.1:5555/callback",                    # case
    "http://127.0.0.1:5555/CALLBACK",
    "http://127.0.0.1:5555/%63allback",                  # percent-encoded character
    RP_REDIRECT + "%00",
    RP_REDIRECT + "?next=https://evil.example/",
    "http://127.0.0.1:5556/callback",                    # other port
    "https://127.0.0.1:5555/callback",                   # other scheme
    "//evil.example/callback",
    " " + RP_REDIRECT,
    "https://evil.example/callback",
]

BAD_LOOPBACK = [  # the public client's RFC 8252 loopback rule must not be stretched
    "http://127.0.0.1.evil.example/cb",
    "http://localhost@evil.example/cb",
    "http://localhost.evil.example/cb",
    "http://evil.example#@127.0.0.1/cb",
    "https://evil.example/?http://127.0.0.1/",
    "javascript://127.0.0.1/%0aalert(1)",
]


def auth_query(client_id: str, redirect_uri: str, **extra: str) -> str:
    return urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
                      "scope": "openid", "state": "s", **extra})


def assert_not_redirected(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, response.status_code
    assert "location" not in response.headers and "http-equiv" not in response.text


@pytest.mark.parametrize("redirect_uri", BAD_REDIRECTS)
def test_manipulated_redirect_uri_gets_an_error_page_never_a_redirect(rp, redirect_uri):
    response = rp.browser.get(f"{rp.issuer}/auth?{auth_query('example-app', redirect_uri)}")
    assert_not_redirected(response)
    # The error path must not redirect either: a broken response_type changes nothing.
    broken = rp.browser.get(f"{rp.issuer}/auth?{auth_query('example-app', redirect_uri, response_type='evil')}")
    assert_not_redirected(broken)


@pytest.mark.parametrize("redirect_uri", BAD_LOOPBACK)
def test_public_client_loopback_rule_admits_only_loopback(rp, redirect_uri):
    assert_not_redirected(rp.browser.get(f"{rp.issuer}/auth?{auth_query('kubectl', redirect_uri)}"))


def test_unknown_client_never_redirects(rp):
    response = rp.browser.get(f"{rp.issuer}/auth?{auth_query('no-such-client', 'https://evil.example/')}")
    assert response.status_code in (400, 404) and "location" not in response.headers


def test_errors_after_the_redirect_check_go_only_to_the_registered_uri(rp):
    response = rp.browser.get(f"{rp.issuer}/auth?{auth_query('example-app', RP_REDIRECT, scope='email')}")
    assert response.status_code == 303
    assert response.headers["location"].startswith(RP_REDIRECT + "?")
    assert "error=invalid_scope" in response.headers["location"]


def test_code_bound_to_its_redirect_uri_at_the_token_endpoint(rp):
    login = rp.login(scope=SCOPES)
    response = rp.exchange(login, redirect_uri=RP_REDIRECT + "/")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# --- PKCE ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("verifier", ["", "challenge", "wrong-verifier-0123456789-0123456789-0123456789"])
def test_pkce_downgrade_at_the_token_endpoint_is_refused(rp, verifier):
    login = rp.login(scope=SCOPES)
    if verifier == "challenge":  # the `plain` trick: send the S256 challenge as the verifier
        verifier = base64.urlsafe_b64encode(hashlib.sha256(login.verifier.encode()).digest()).decode().rstrip("=")
    form = {"grant_type": "authorization_code", "code": login.code, "redirect_uri": RP_REDIRECT}
    if verifier:
        form["code_verifier"] = verifier
    response = rp.token(**form)
    assert response.status_code == 400 and response.json()["error"] in ("invalid_grant", "invalid_request")
    assert "access_token" not in response.json()


def test_code_verifier_without_a_challenge_is_refused(rp):
    """RFC 9700 §2.1.1: a verifier for a code that had no challenge means PKCE was stripped in transit."""
    login = rp.login(scope=SCOPES, pkce=False)
    response = rp.exchange(login, code_verifier="a" * 50)
    assert response.status_code == 400 and "access_token" not in response.json()


# --- code and refresh token replay, substitution across clients ---------------------------------------------

def userinfo(rp: RelyingParty, token: str) -> int:
    return rp.http.get(f"{rp.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def test_code_replay_is_refused_and_revokes_what_the_code_issued(rp):
    login = rp.login(scope=SCOPES)
    first = rp.exchange(login).json()
    replay = rp.exchange(login)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert userinfo(rp, first["access_token"]) == 401
    refreshed = rp.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


def test_refresh_replay_after_rotation_revokes_the_whole_family(rp):
    tokens = rp.exchange(rp.login(scope=SCOPES)).json()
    rotated = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    replay = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    successor = rp.token(grant_type="refresh_token", refresh_token=rotated["refresh_token"])
    assert successor.json()["error"] == "invalid_grant"
    assert userinfo(rp, rotated["access_token"]) == 401
    assert userinfo(rp, tokens["access_token"]) == 401


def other_client(rp: RelyingParty) -> RelyingParty:
    return RelyingParty(rp.issuer, client_id="other-app", client_secret="other-secret",
                        redirect_uri="http://127.0.0.1:5556/other")


def test_client_b_cannot_redeem_client_a_code(rp):
    login = rp.login(scope=SCOPES)
    stolen = other_client(rp).token(grant_type="authorization_code", code=login.code, redirect_uri=RP_REDIRECT,
                                    code_verifier=login.verifier)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


def test_client_b_cannot_use_client_a_refresh_token(rp):
    tokens = rp.exchange(rp.login(scope=SCOPES)).json()
    stolen = other_client(rp).token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


def test_id_token_names_its_client_and_nonce_so_a_mixed_up_token_is_detectable(rp):
    login = rp.login(scope=SCOPES)
    claims = rp.verify_id_token(rp.exchange(login).json()["id_token"], nonce=login.nonce)
    assert claims["aud"] == "example-app"
    with pytest.raises(InvalidClaimError):
        other_client(rp).verify_id_token(rp.exchange(rp.login(scope=SCOPES)).json()["id_token"])


# --- state and nonce ----------------------------------------------------------------------------------------

def test_state_comes_back_verbatim_and_only_to_the_client(rp):
    state = "a b&c=d/é?#%25"
    login = rp.login(scope=SCOPES, state=state)
    assert login.params["state"] == state


def test_no_state_sent_means_no_state_returned(rp):
    login = rp.login(scope=SCOPES, state="")
    assert "state" not in login.params


def test_nonce_is_bound_into_the_id_token_and_absent_when_not_sent(rp):
    login = rp.login(scope=SCOPES, nonce="n-0123456789")
    assert rp.verify_id_token(rp.exchange(login).json()["id_token"])["nonce"] == "n-0123456789"
    bare = rp.login(scope=SCOPES, nonce="")
    assert "nonce" not in rp.verify_id_token(rp.exchange(bare).json()["id_token"])


# --- forged JWTs --------------------------------------------------------------------------------------------

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(token: str, header: dict[str, str], key: bytes | None) -> str:
    payload = token.split(".")[1]
    signing_input = f"{b64(json.dumps(header).encode())}.{payload}"
    signature = b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key is not None else ""
    return f"{signing_input}.{signature}"


@pytest.fixture
def access_token(rp: RelyingParty) -> str:
    response = rp.token(grant_type="password", username="admin@example.com", password="password", scope="openid")
    return str(response.json()["access_token"])


def forgeries(rp: RelyingParty, token: str) -> Iterator[str]:
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
    jwk = next(k for k in rp.http.get(f"{rp.issuer}/keys").json()["keys"] if k["kid"] == kid)
    from joserfc.jwk import RSAKey

    pem = RSAKey.import_key(jwk).as_pem(private=False)
    yield forge(token, {"alg": "none", "typ": "JWT", "kid": kid}, None)
    yield forge(token, {"alg": "None", "kid": kid}, None)
    yield forge(token, {"alg": "HS256", "kid": kid}, pem)                    # key confusion: HMAC with the PEM
    yield forge(token, {"alg": "HS256", "kid": kid}, json.dumps(jwk).encode())
    yield forge(token, {"alg": "HS256", "kid": kid}, base64.urlsafe_b64decode(jwk["n"] + "==="))
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "==="))
    yield ".".join([header, b64(json.dumps({**claims, "sub": "someone-else"}).encode()), signature])


def test_forged_jwts_are_refused_at_userinfo(rp, access_token):
    assert userinfo(rp, access_token) == 200
    for forged in forgeries(rp, access_token):
        assert userinfo(rp, forged) == 401, forged


def test_forged_jwts_are_inactive_at_introspection(rp, access_token):
    url = f"{rp.issuer}/token/introspect"
    if rp.http.post(url, data={"token": access_token}, auth=("example-app", rp.client_secret)).status_code == 404:
        pytest.skip("introspection is not mounted in this build")
    for forged in forgeries(rp, access_token):
        answer = rp.http.post(url, data={"token": forged}, auth=("example-app", rp.client_secret))
        assert answer.status_code == 200 and answer.json()["active"] is False


# --- LDAP injection through HTTP ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    from tests.fixtures.slapd import running_slapd

    with running_slapd(Path(tmp_path_factory.mktemp("slapd")) / "run") as server:
        yield server


@pytest.fixture
def ldap_rp(slapd: Slapd, tmp_path: Path) -> Iterator[RelyingParty]:
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": dex_example_config(slapd)}
    with run_dexpy(tmp_path, NO_RATE_LIMIT + f"connectors: [{json.dumps(connector)}]\n") as server:
        yield RelyingParty(server.issuer)


@pytest.mark.parametrize("username", ["*", "janedoe@example.com)(mail=*", "*)(|(mail=*", "j*",
                                      "janedoe@example.com)(|(objectClass=*)", "\\2a"])
def test_ldap_filter_injection_through_the_login_form_logs_nobody_in(ldap_rp, username):
    answer = submit_password(ldap_rp, username, "foo", connector_id="ldap")
    wrong = submit_password(ldap_rp, "janedoe@example.com", "not-foo", connector_id="ldap")
    assert answer.status_code == 401 and comparable(answer) == comparable(wrong)
    assert submit_password(ldap_rp, "janedoe@example.com", "foo", connector_id="ldap").status_code == 303
