"""Dex's examples/ldap setup served by a real dexpy over HTTP: the password grant and a browser login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.conftest import dex_example_config, merged
from tests.fixtures.dexpy_server import run_dexpy
from tests.fixtures.rp import RelyingParty
from tests.fixtures.slapd import BASE_DN, Slapd

JANE_SUB = "CiNjbj1qYW5lLG91PVBlb3BsZSxkYz1leGFtcGxlLGRjPW9yZxIEbGRhcA"  # Dex's sub for jane on connector "ldap"


@pytest.fixture
def rp(slapd: Slapd, tmp_path: Path) -> Iterator[RelyingParty]:
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": dex_example_config(slapd)}
    extra = f"oauth2:\n  passwordConnector: ldap\nconnectors: [{json.dumps(connector)}]\n"
    with run_dexpy(tmp_path, extra) as server:
        yield RelyingParty(server.issuer)


def test_password_grant_through_ldap_then_refresh(rp: RelyingParty) -> None:
    response = rp.token(grant_type="password", username="janedoe@example.com", password="foo",
                        scope="openid email profile groups offline_access")
    assert response.status_code == 200, response.text
    body = response.json()
    claims = rp.verify_id_token(body["id_token"])
    assert claims["sub"] == JANE_SUB
    assert (claims["email"], claims["email_verified"], claims["name"]) == ("janedoe@example.com", True, "jane")
    assert claims["groups"] == ["admins", "developers"]

    refreshed = rp.token(grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert rp.verify_id_token(refreshed.json()["id_token"])["groups"] == ["admins", "developers"]


@pytest.mark.parametrize("username, password", [("janedoe@example.com", "bar"), ("nobody@example.com", "foo")])
def test_password_grant_refuses_wrong_credentials_alike(rp: RelyingParty, username: str, password: str) -> None:
    response = rp.token(grant_type="password", username=username, password=password, scope="openid")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_browser_login_through_ldap_ends_in_an_id_token_with_groups(rp: RelyingParty) -> None:
    login = rp.login(username="johndoe@example.com", password="bar", connector_id="ldap",
                     scope="openid email profile groups")
    response = rp.exchange(login)
    assert response.status_code == 200, response.text
    claims = rp.verify_id_token(response.json()["id_token"], nonce=login.nonce)
    assert claims["email"] == "johndoe@example.com" and claims["name"] == "john"
    assert claims["groups"] == ["admins"]


def test_a_directory_that_matches_two_entries_is_a_clear_invalid_grant(slapd: Slapd, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """The directory answers, but with two users for one name: a JSON refusal and a log line, not a 500."""
    config = merged(dex_example_config(slapd), {"userSearch": {"baseDN": BASE_DN}})  # the clones live twice
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": config}
    with run_dexpy(tmp_path, f"oauth2:\n  passwordConnector: ldap\nconnectors: [{json.dumps(connector)}]\n") as server:
        response = RelyingParty(server.issuer).token(grant_type="password", username="clone@example.com",
                                                     password="c1", scope="openid")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text
    assert "matched 2 entries" in caplog.text
