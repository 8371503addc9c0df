"""Discovery advertises exactly what is enabled, and every endpoint answers bad parameters with the RFC's
error, never a 500."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from dexpy.config import RESPONSE_TYPES
from dexpy.oidc.provider import SUPPORTED_GRANTS
from tests.fixtures.dexpy_server import CLIENT_SECRET, RP_REDIRECT, run_dexpy
from tests.fixtures.rp import RelyingParty

CONFIGS = {
    "default": "",
    "everything": """
oauth2:
  responseTypes: [code, token, id_token, "id_token token", "code id_token", "code token", "code id_token token"]
  passwordConnector: local
""",
    "narrowed": """
oauth2:
  grantTypes: [authorization_code, password]
  responseTypes: [code, "code id_token"]
  passwordConnector: local
""",
}
POST_ENDPOINTS = {"token_endpoint", "revocation_endpoint", "introspection_endpoint", "device_authorization_endpoint"}
AUTH = ("example-app", CLIENT_SECRET)
BIG = "x" * 200_000


@pytest.fixture(params=list(CONFIGS))
def server(request, tmp_path):
    with run_dexpy(tmp_path, CONFIGS[request.param]) as running:
        yield running


@pytest.fixture
def plain(tmp_path):
    with run_dexpy(tmp_path) as running:
        yield running


def test_every_advertised_endpoint_answers(server):
    document = RelyingParty(server.issuer).discovery()
    endpoints = {k: v for k, v in document.items() if k.endswith("_endpoint") or k == "jwks_uri"}
    assert {"revocation_endpoint", "introspection_endpoint", "token_endpoint", "jwks_uri"} <= set(endpoints)
    with httpx.Client(timeout=10) as http:
        for name, url in endpoints.items():
            assert url.startswith(server.issuer + "/"), name
            response = http.post(url, auth=AUTH) if name in POST_ENDPOINTS else http.get(url)
            assert response.status_code not in (404, 405) and response.status_code < 500, (name, response.text)


def test_advertised_grant_types_are_exactly_what_the_token_endpoint_takes(server):
    rp = RelyingParty(server.issuer)
    advertised = set(rp.discovery()["grant_types_supported"])
    assert advertised <= set(SUPPORTED_GRANTS)
    for grant in [*SUPPORTED_GRANTS, "urn:example:not-a-grant"]:
        if grant == "implicit":  # served by /auth, not /token
            continue
        response = rp.token(grant_type=grant)
        error = response.json().get("error") if response.status_code != 200 else None
        if grant in advertised:
            assert error != "unsupported_grant_type", grant
        else:
            assert (response.status_code, error) == (400, "unsupported_grant_type"), grant


def test_advertised_response_types_are_exactly_what_auth_takes(server):
    rp = RelyingParty(server.issuer)
    advertised = set(rp.discovery()["response_types_supported"])
    for response_type in RESPONSE_TYPES:
        response = rp.browser.get(rp.auth_url(response_type=response_type, nonce="n", state="s", scope="openid"))
        location = response.headers.get("location", "")
        to_client = location.startswith(RP_REDIRECT)
        if response_type in advertised:
            assert response.status_code == 200 or not to_client, (response_type, location)
        else:
            params = parse_qs(urlsplit(location).query)
            assert params["error"] == ["unsupported_response_type"], (response_type, location)


def test_revocation_and_introspection_take_each_advertised_auth_method(plain):
    document = RelyingParty(plain.issuer).discovery()
    clients = {"client_secret_basic": (RelyingParty(plain.issuer), "basic"),
               "client_secret_post": (RelyingParty(plain.issuer), "post"),
               "none": (RelyingParty(plain.issuer, client_id="kubectl", client_secret=""), "none")}
    for endpoint, expected in (("revocation_endpoint", {}), ("introspection_endpoint", {"active": False})):
        methods = document[f"{endpoint}_auth_methods_supported"]
        assert set(methods) == set(clients)
        for method in methods:
            rp, auth = clients[method]
            response = rp.post_as_client(endpoint, auth, token="not-a-token")
            assert (response.status_code, response.json()) == (200, expected), (endpoint, method)


# -- malformed, missing, repeated and oversized parameters ------------------------------------------------

TOKEN_FORMS = {
    "missing": ("", 400, "invalid_request"),
    "malformed": ("grant_type=authorization_code&code=%ZZ%00&redirect_uri=%FF", 400, "invalid_grant"),
    "repeated": ("grant_type=refresh_token&grant_type=password&refresh_token=a", 400, "invalid_request"),
    "oversized": ("grant_type=refresh_token&refresh_token=" + BIG, 413, "invalid_request"),
}
REVOKE_FORMS = {
    "missing": ("token_type_hint=access_token", 400, "invalid_request"),
    "malformed": ("token=%ZZ%00&token_type_hint=%FF", 200, None),
    "repeated": ("token=a&token=b", 400, "invalid_request"),
    "oversized": ("token=" + BIG, 413, "invalid_request"),
}
INTROSPECT_FORMS = {**REVOKE_FORMS, "malformed": ("token=%ZZ%00&token_type_hint=%FF", 200, "inactive")}


@pytest.mark.parametrize("path, forms", [("/token", TOKEN_FORMS), ("/token/revoke", REVOKE_FORMS),
                                         ("/token/introspect", INTROSPECT_FORMS)])
@pytest.mark.parametrize("case", ["missing", "malformed", "repeated", "oversized"])
def test_form_endpoints_answer_bad_parameters_with_the_rfc_error(plain, path, forms, case):
    body, status, error = forms[case]
    response = httpx.post(plain.issuer + path, content=body, auth=AUTH,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == status, response.text
    if error == "inactive":
        assert response.json() == {"active": False}
    elif error:
        assert response.json()["error"] == error
    else:
        assert response.json() == {}


@pytest.mark.parametrize("case, headers, error", [
    ("missing", [], "invalid_request"),
    ("malformed", [("Authorization", "Bearer %%%.?!.~")], "invalid_token"),
    ("repeated", [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")], "invalid_token"),
    ("oversized", [("Authorization", "Bearer " + BIG[:60_000])], "invalid_token"),
])
def test_userinfo_answers_bad_tokens_with_rfc6750_errors(plain, case, headers, error):
    response = httpx.get(plain.issuer + "/userinfo", headers=headers)
    assert response.status_code == 401 and response.json()["error"] == error
    assert response.headers["www-authenticate"].startswith("Bearer")


AUTH_BASE = {"client_id": "example-app", "redirect_uri": RP_REDIRECT, "response_type": "code", "scope": "openid"}


@pytest.mark.parametrize("case, query, expected", [
    ("missing", urlencode({k: v for k, v in AUTH_BASE.items() if k != "response_type"}), "invalid_request"),
    ("missing client", urlencode({k: v for k, v in AUTH_BASE.items() if k != "client_id"}), 400),
    ("malformed", urlencode({**AUTH_BASE, "max_age": "soon"}), "invalid_request"),
    ("malformed scope", urlencode({**AUTH_BASE, "scope": 'openid "\x00\xff\\'}), "invalid_scope"),
    ("malformed mode", urlencode({**AUTH_BASE, "response_mode": 'q"\\\x01'}), "invalid_request"),
    ("repeated", urlencode(AUTH_BASE) + "&response_type=code", "invalid_request"),
    ("repeated client", urlencode(AUTH_BASE) + "&client_id=other-app", 400),
    ("oversized", urlencode({**AUTH_BASE, "state": BIG[:50_000]}), 414),
])
def test_auth_answers_bad_parameters_on_a_page_or_at_the_redirect_uri(plain, case, query, expected):
    response = httpx.get(f"{plain.issuer}/auth?{query}")
    if isinstance(expected, int):  # not sent to the client: no trusted redirect URI (or not even read)
        assert response.status_code == expected and not response.headers.get("location")
    else:
        assert response.is_redirect and response.headers["location"].startswith(RP_REDIRECT)
        assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == [expected]


@pytest.mark.parametrize("body", ["scope=openid&scope=email", "client_id=example-app&client_id=other-app",
                                  "code_challenge=a&code_challenge=b"])
def test_device_authorization_refuses_repeated_parameters(plain, body):
    response = httpx.post(plain.issuer + "/device/code", content=body, auth=AUTH,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text
