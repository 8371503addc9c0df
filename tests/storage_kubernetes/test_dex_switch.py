"""Replacing Dex in a running cluster: dexpy starts on the objects Dex left behind and serves their owners over
HTTP as Dex did — the client logs in with its Dex-era secret, the user with the password Dex stored, a refresh
token Dex handed out still refreshes, and tokens Dex signed still verify against dexpy's /keys.

The objects are written here the way Dex writes them (`dex_objects.py` spells out Dex's naming) and the wire
formats are built by hand from Dex's `types.proto`, independently of dexpy's code."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from dexpy.config import load_config
from dexpy.storage.kubernetes.crds import CRD_DIR
from tests.fixtures.dexpy_server import ADMIN_PASSWORD_HASH, RP_REDIRECT, serve_config, write_config
from tests.fixtures.kubeapi.fixture import KubeAPIFixture, start_fake
from tests.fixtures.rp import RelyingParty
from tests.storage_kubernetes.dex_objects import id_to_name

DEX_SECRET = "dex-era-client-secret"
USER_ID, CONNECTOR = "0-385-28089-0", "mock"
REFRESH_ID, REFRESH_TOKEN = "ox3gjhd2dyexdvfn3s4pr4vwy", "jl4m6ppx2fshvdudqq7o3m2ls"

SWITCH_YAML = """
issuer: {issuer}
storage:
  type: kubernetes
  config: {{kubeConfigFile: KUBECONFIG, crdHandling: check}}
web:
  http: 127.0.0.1:{port}
enablePasswordDB: true
connectors:
- type: mockCallback
  id: mock
  name: Mock
"""


def proto_pair(first: str, second: str) -> str:
    """Dex's two-string-field protobuf messages (`IDTokenSubject`, `RefreshToken`), base64url without padding."""
    raw = b"".join(bytes([tag, len(v)]) + v.encode() for tag, v in ((0x0A, first), (0x12, second)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dex_objects(signing_key: dict[str, Any], public_key: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(kind, plural, name, fields) of what a Dex that served one client and one user leaves in the cluster."""
    now = datetime.now(timezone.utc)
    claims = {"userID": USER_ID, "username": "Kilgore Trout", "preferredUsername": "kilgore",
              "email": "kilgore@kilgore.trout", "emailVerified": True, "groups": ["authors"]}
    used = rfc3339(now - timedelta(hours=1))
    return [
        ("OAuth2Client", "oauth2clients", id_to_name("example-app"),
         {"id": "example-app", "secret": DEX_SECRET, "redirectURIs": [RP_REDIRECT], "name": "Example App"}),
        ("Password", "passwords", id_to_name("admin@example.com"),
         {"email": "admin@example.com", "hash": base64.b64encode(ADMIN_PASSWORD_HASH.encode()).decode(),
          "username": "admin", "userID": "08a8684b-db88-4b73-90a9-3cd1661f5466"}),
        ("SigningKey", "signingkeies", "openid-connect-keys",
         {"signingKey": signing_key, "signingKeyPub": public_key, "verificationKeys": [],
          "nextRotation": rfc3339(now + timedelta(hours=5))}),
        ("RefreshToken", "refreshtokens", REFRESH_ID,
         {"CreatedAt": used, "LastUsed": used, "clientID": "example-app", "connectorID": CONNECTOR,
          "scopes": ["openid", "email", "groups", "offline_access"], "token": REFRESH_TOKEN, "claims": claims}),
        ("OfflineSessions", "offlinesessionses", "s2zzxpggomkhw",  # Dex's name for (USER_ID, "mock")
         {"userID": USER_ID, "connID": CONNECTOR,
          "refresh": {"example-app": {"ID": REFRESH_ID, "ClientID": "example-app", "CreatedAt": used,
                                      "LastUsed": used}}}),
    ]


@pytest.fixture
def dex_key() -> RSAKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RSAKey.import_key(private, {"kid": secrets.token_hex(20), "use": "sig", "alg": "RS256"})


@pytest.fixture
def after_dex(tmp_path: Path, dex_key: RSAKey) -> Iterator[tuple[KubeAPIFixture, RelyingParty]]:
    fake = start_fake()
    try:
        fake.create_crds(CRD_DIR)
        for kind, plural, name, fields in dex_objects(dex_key.as_dict(private=True), dex_key.as_dict(private=False)):
            body = {"apiVersion": "dex.coreos.com/v1", "kind": kind, "metadata": {"name": name}, **fields}
            status, answer = fake.request("POST", f"/apis/dex.coreos.com/v1/namespaces/{fake.namespace}/{plural}", body)
            assert status == 201, answer
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        config = write_config(tmp_path, base=SWITCH_YAML.replace("KUBECONFIG", str(kubeconfig)))
        with serve_config(load_config(str(config))) as server:
            yield fake, RelyingParty(server.issuer, client_secret=DEX_SECRET)
    finally:
        fake.stop()


def test_a_refresh_token_dex_handed_out_refreshes_on_dexpy(after_dex: tuple[KubeAPIFixture, RelyingParty]) -> None:
    _, rp = after_dex
    response = rp.token(grant_type="refresh_token", refresh_token=proto_pair(REFRESH_ID, REFRESH_TOKEN))
    assert response.status_code == 200, response.text
    claims = rp.verify_id_token(response.json()["id_token"])
    assert (claims["sub"], claims["email"], claims["groups"]) == (
        proto_pair(USER_ID, CONNECTOR), "kilgore@kilgore.trout", ["authors"])
    again = rp.token(grant_type="refresh_token", refresh_token=response.json()["refresh_token"])
    assert again.status_code == 200, again.text


def test_dexs_client_secret_and_stored_password_log_in(after_dex: tuple[KubeAPIFixture, RelyingParty]) -> None:
    _, rp = after_dex
    tokens = rp.id_token(rp.login(username="admin@example.com", password="password", scope="openid email",
                                  connector_id="local"))
    assert tokens["claims"]["email"] == "admin@example.com"
    assert RelyingParty(rp.issuer).token(grant_type="refresh_token", refresh_token="x").status_code == 401


def test_tokens_dex_signed_verify_against_dexpys_keys_and_dexpy_goes_on_signing_with_dexs_key(
        after_dex: tuple[KubeAPIFixture, RelyingParty], dex_key: RSAKey) -> None:
    """A kube-apiserver holding an ID token Dex signed keeps accepting it after the switch."""
    _, rp = after_dex
    now = int(datetime.now(timezone.utc).timestamp())
    dex_token = jwt.encode({"alg": "RS256", "kid": dex_key.kid},
                           {"iss": rp.issuer, "aud": "example-app", "sub": proto_pair(USER_ID, CONNECTOR),
                            "iat": now, "exp": now + 600}, dex_key)
    assert rp.verify_id_token(dex_token)["sub"] == proto_pair(USER_ID, CONNECTOR)
    issued = rp.token(grant_type="refresh_token", refresh_token=proto_pair(REFRESH_ID, REFRESH_TOKEN)).json()
    header = json.loads(base64.urlsafe_b64decode(issued["id_token"].split(".")[0] + "=="))
    assert header["kid"] == dex_key.kid
