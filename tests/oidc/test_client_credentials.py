"""The client_credentials grant: a confidential client gets tokens about itself, as Dex issues them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dexpy.config import load_config
from tests.fixtures.dexpy_server import BASE_YAML, run_dexpy, serve_config, write_config
from tests.fixtures.rp import RelyingParty

SERVICE_CLIENT = """\
- id: svc
  name: Service
  secret: svc-secret
  clientCredentialsClaims:
    groups: [robots, deployers]
"""
SVC_SUBJECT = "CgNzdmM"
"""Dex's `sub` for client "svc": base64url of protobuf {user_id: "svc"}, the empty connector id left out."""


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[RelyingParty]:
    config = load_config(str(write_config(tmp_path, base=BASE_YAML + SERVICE_CLIENT)))
    with serve_config(config) as server:
        yield RelyingParty(server.issuer, client_id="svc", client_secret="svc-secret")


def test_tokens_name_the_client_and_carry_its_groups(svc: RelyingParty) -> None:
    assert "client_credentials" in svc.discovery()["grant_types_supported"]
    response = svc.token(grant_type="client_credentials", scope="openid profile groups")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body and body["token_type"] == "bearer"
    claims = svc.verify_id_token(body["id_token"])
    assert claims["sub"] == SVC_SUBJECT
    assert (claims["name"], claims["groups"]) == ("Service", ["robots", "deployers"])
    userinfo = svc.http.get(f"{svc.issuer}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == SVC_SUBJECT


def test_without_openid_there_is_no_id_token_and_no_name(svc: RelyingParty) -> None:
    response = svc.token(auth="post", grant_type="client_credentials", scope="groups")
    assert response.status_code == 200, response.text
    assert "id_token" not in response.json()
    userinfo = svc.http.get(f"{svc.issuer}/userinfo",
                            headers={"Authorization": f"Bearer {response.json()['access_token']}"}).json()
    assert "name" not in userinfo and userinfo["groups"] == ["robots", "deployers"]


@pytest.mark.parametrize("scope", ["openid offline_access", "openid federated:id", "openid unknown"])
def test_refused_scopes(svc: RelyingParty, scope: str) -> None:
    response = svc.token(grant_type="client_credentials", scope=scope)
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_wrong_secret_is_invalid_client(svc: RelyingParty) -> None:
    svc.client_secret = "wrong"
    response = svc.token(grant_type="client_credentials", scope="openid")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_public_client_is_refused(tmp_path: Path) -> None:
    with run_dexpy(tmp_path) as server:
        kubectl = RelyingParty(server.issuer, client_id="kubectl", client_secret="")
        response = kubectl.token(auth="none", grant_type="client_credentials", scope="openid")
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_off_when_grant_types_leave_it_out(tmp_path: Path) -> None:
    with run_dexpy(tmp_path, "oauth2:\n  grantTypes: [authorization_code, refresh_token]\n") as server:
        rp = RelyingParty(server.issuer)
        assert "client_credentials" not in rp.discovery()["grant_types_supported"]
        response = rp.token(grant_type="client_credentials", scope="openid")
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_the_form_is_read_however_a_client_encodes_it(tmp_path: Path) -> None:
    secret = "s+e c/r&e=t%-é"  # every character urlencoding escapes, and one outside ASCII
    config = load_config(str(write_config(tmp_path, base=BASE_YAML + f'- id: odd\n  name: Odd\n  secret: "{secret}"\n')))
    with serve_config(config) as server:
        url = f"{server.issuer}/token"
        form = {"grant_type": "client_credentials", "client_id": "odd", "client_secret": secret, "scope": "openid"}
        urlencoded = httpx.post(url, data=form)
        multipart = httpx.post(url, data=form, files={"attachment": ("a.txt", b"ignored")})
        wrong = httpx.post(url, data={**form, "client_secret": secret.replace("é", "e")})
    assert urlencoded.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert multipart.request.headers["content-type"].startswith("multipart/form-data")
    assert urlencoded.status_code == multipart.status_code == 200, (urlencoded.text, multipart.text)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
