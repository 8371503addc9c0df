"""Token exchange (RFC 8693) through a connector that verifies upstream tokens (`mockCallback`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dexpy.model import Client
from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty

ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
KILGORE_SUBJECT = "Cg0wLTM4NS0yODA4OS0wEgRtb2Nr"
"""Dex's well-known `sub` of the mock connector's user 0-385-28089-0 on connector "mock"."""

MOCK = """
connectors:
- type: mockCallback
  id: mock
  name: Mock
"""


@pytest.fixture
def rp(tmp_path: Path) -> Iterator[RelyingParty]:
    with run_dexpy(tmp_path, MOCK) as server:
        yield RelyingParty(server.issuer)


def exchange(rp: RelyingParty, **form: str) -> dict[str, str]:
    fields = {"grant_type": EXCHANGE, "connector_id": "mock", "subject_token": "upstream-token",
              "subject_token_type": ID_TOKEN_TYPE, "scope": "openid email groups", **form}
    response = rp.token(**fields)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def test_exchange_for_an_access_token(rp: RelyingParty) -> None:
    assert EXCHANGE in rp.discovery()["grant_types_supported"]
    body = exchange(rp)
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "bearer"
    assert body["expires_in"] > 0 and "refresh_token" not in body
    userinfo = rp.http.get(f"{rp.issuer}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200
    assert (userinfo.json()["sub"], userinfo.json()["email"]) == (KILGORE_SUBJECT, "kilgore@kilgore.trout")


def test_exchange_for_an_id_token(rp: RelyingParty) -> None:
    body = exchange(rp, subject_token_type=ACCESS_TOKEN_TYPE, requested_token_type=ID_TOKEN_TYPE)
    assert body["issued_token_type"] == ID_TOKEN_TYPE
    claims = rp.verify_id_token(body["access_token"])
    assert claims["sub"] == KILGORE_SUBJECT and claims["groups"] == ["authors"] and claims["aud"] == "example-app"


@pytest.mark.parametrize("field,value", [
    ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2"),
    ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
    ("subject_token", ""),
    ("connector_id", "local"),  # the password DB cannot verify tokens
    ("connector_id", "nope"),
])
def test_unusable_requests_are_invalid_request(rp: RelyingParty, field: str, value: str) -> None:
    response = rp.token(grant_type=EXCHANGE, **{"connector_id": "mock", "subject_token": "t",
                                                "subject_token_type": ID_TOKEN_TYPE, field: value})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text


def test_client_must_authenticate(rp: RelyingParty) -> None:
    response = rp.token(auth="none", grant_type=EXCHANGE, connector_id="mock", subject_token="t",
                        subject_token_type=ID_TOKEN_TYPE)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_connector_outside_the_clients_allowed_connectors(tmp_path: Path) -> None:
    with run_dexpy(tmp_path, MOCK) as server:
        server.runtime.storage.create(Client(id="narrow", secret="s", allowed_connectors=["local"]))
        narrow = RelyingParty(server.issuer, client_id="narrow", client_secret="s")
        response = narrow.token(grant_type=EXCHANGE, connector_id="mock", subject_token="t",
                                subject_token_type=ID_TOKEN_TYPE)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
