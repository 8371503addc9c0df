"""Variants of the code flow: plain PKCE, the out-of-band redirect, cross-client audiences, federated claims,
and Dex's mock connectors."""

from __future__ import annotations

import re

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from dexpy.config import load_config
from dexpy.oidc.wire import encode_subject
from tests.fixtures.dexpy_server import BASE_YAML, run_dexpy, serve_config, write_config
from tests.fixtures.rp import RelyingParty, form_action, form_fields

PEERS_AND_MOCKS = """
connectors:
- type: mockCallback
  id: mock
  name: Example
- type: mockPassword
  id: mockpw
  name: Mock Password
  config:
    username: kilgore
    password: trout
"""


@pytest.fixture
def server(tmp_path):
    with run_dexpy(tmp_path, PEERS_AND_MOCKS) as s:
        yield s


def test_plain_pkce_is_accepted_and_checked(server):
    rp = RelyingParty(server.issuer)
    login = rp.login(pkce=False, code_challenge="plain-verifier-" + "x" * 40, code_challenge_method="plain",
                     connector_id="local")
    assert rp.exchange(login, code_verifier="plain-verifier-" + "y" * 40).json()["error"] == "invalid_grant"
    login = rp.login(pkce=False, code_challenge="plain-verifier-" + "x" * 40, code_challenge_method="plain",
                     connector_id="local")
    assert rp.exchange(login, code_verifier="plain-verifier-" + "x" * 40).status_code == 200


def test_out_of_band_redirect_shows_the_code_to_the_user(server):
    rp = RelyingParty(server.issuer, client_id="kubectl", client_secret="", redirect_uri="urn:ietf:wg:oauth:2.0:oob")
    page = rp.browse(rp.auth_url(connector_id="mock", state="s"))
    if "approval" in str(page.url):
        page = rp.browse(form_action(page.text, str(page.url)), method="POST",
                         data={**form_fields(page.text), "approval": "approve"})
    assert page.status_code == 200
    assert "Login successful" in page.text
    shown = re.search(r'id="code" value="([a-z2-7]{25})"', page.text)
    assert shown, page.text
    value = shown.group(1)
    response = rp.token(auth="none", grant_type="authorization_code", code=value,
                        redirect_uri="urn:ietf:wg:oauth:2.0:oob")
    assert response.status_code == 200, response.text


def test_mock_callback_connector_logs_in_kilgore(server):
    rp = RelyingParty(server.issuer)
    login = rp.login(connector_id="mock", scope="openid email groups")
    claims = rp.verify_id_token(rp.exchange(login).json()["id_token"])
    assert claims["sub"] == "Cg0wLTM4NS0yODA4OS0wEgRtb2Nr"  # Dex's value for this user on connector "mock"
    assert claims["email"] == "kilgore@kilgore.trout" and claims["groups"] == ["authors"]


def test_mock_password_connector(server):
    rp = RelyingParty(server.issuer)
    login = rp.login(connector_id="mockpw", username="kilgore", password="trout", scope="openid email")
    assert rp.verify_id_token(rp.exchange(login).json()["id_token"])["email"] == "kilgore@kilgore.trout"


def test_federated_id_claims(server):
    rp = RelyingParty(server.issuer)
    login = rp.login(connector_id="local", scope="openid federated:id")
    claims = rp.verify_id_token(rp.exchange(login).json()["id_token"])
    assert claims["federated_claims"] == {"connector_id": "local",
                                          "user_id": "08a8684b-db88-4b73-90a9-3cd1661f5466"}
    assert claims["sub"] == encode_subject("08a8684b-db88-4b73-90a9-3cd1661f5466", "local")


def test_cross_client_audience_needs_the_peer_to_trust_the_client(tmp_path):
    trusting = """
staticClients:
- id: example-app
  name: Example App
  secret: ZXhhbXBsZS1hcHAtc2VjcmV0
  redirectURIs: [http://127.0.0.1:5555/callback]
- id: backend-api
  name: Backend API
  secret: backend-secret
  trustedPeers: [example-app]
- id: other-app
  name: Other App
  secret: other-secret
  redirectURIs: [http://127.0.0.1:5556/other]
"""
    base = BASE_YAML[: BASE_YAML.index("staticClients:")]
    with serve_config(load_config(str(write_config(tmp_path, trusting, base=base)))) as s:
        rp = RelyingParty(s.issuer)
        login = rp.login(scope="openid audience:server:client_id:backend-api", connector_id="local")
        token = rp.exchange(login).json()["id_token"]
        keys = KeySet.import_key_set(rp.http.get(f"{s.issuer}/keys").json())
        claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
        assert claims["aud"] == ["backend-api", "example-app"] and claims["azp"] == "example-app"
        other = RelyingParty(s.issuer, client_id="other-app", client_secret="other-secret",
                             redirect_uri="http://127.0.0.1:5556/other")
        refused = other.browse(other.auth_url(scope="openid audience:server:client_id:backend-api", state="s"))
        assert "error=invalid_scope" in refused.headers["location"]
