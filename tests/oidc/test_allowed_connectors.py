"""A client's `allowedConnectors` over real HTTP: the login page offers only those, a request for another is
refused wherever it enters, and single sign-on never carries a session from a connector the client may not use
(or one that is gone)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dexpy.model import Client, ConnectorRecord
from tests.fixtures.dexpy_server import RP_REDIRECT, DexpyServer, run_dexpy
from tests.fixtures.rp import RelyingParty

MOCK = {"username": "kilgore", "password": "kilgore-password"}
CONNECTORS = f"""
connectors:
- type: mockPassword
  id: mock
  name: Mock
  config: {json.dumps(MOCK)}
"""


@pytest.fixture
def dexpy(tmp_path: Path) -> Iterator[DexpyServer]:
    """The password DB (`local`) and a `mock` connector; `only-mock` may use `mock` alone."""
    with run_dexpy(tmp_path, CONNECTORS) as server:
        server.runtime.storage.create(Client(id="only-mock", secret="s", redirect_uris=[RP_REDIRECT],
                                             allowed_connectors=["mock"]))
        yield server


def _rp(server: DexpyServer, client_id: str, browser: RelyingParty | None = None) -> RelyingParty:
    rp = RelyingParty(server.issuer, client_id=client_id, client_secret="s")
    if browser is not None:
        rp.browser = browser.browser
    return rp


def _error(response) -> str:  # type: ignore[no-untyped-def]
    """The `error` of a redirect back to the client."""
    assert response.is_redirect and response.headers["location"].startswith(RP_REDIRECT), response.text[:300]
    return parse_qs(urlsplit(response.headers["location"]).query)["error"][0]


def test_the_login_page_offers_only_the_connectors_the_client_may_use(dexpy: DexpyServer) -> None:
    everyone = RelyingParty(dexpy.issuer).browse(RelyingParty(dexpy.issuer).auth_url(state="s"))
    assert "/auth/local?" in everyone.text and "/auth/mock?" in everyone.text
    only_mock = _rp(dexpy, "only-mock")
    page = only_mock.browse(only_mock.auth_url(state="s"))  # its one connector: straight to its form
    assert str(page.url).startswith(f"{dexpy.issuer}/auth/mock/login?") and 'name="password"' in page.text
    login = only_mock.login(username="kilgore", password="kilgore-password")
    assert only_mock.id_token(login)["claims"]["email"] == "kilgore@kilgore.trout"  # the mock connector's user


def test_a_connector_the_client_may_not_use_is_refused_wherever_the_request_names_it(dexpy: DexpyServer) -> None:
    only_mock = _rp(dexpy, "only-mock")
    named = only_mock.browse(only_mock.auth_url(state="s", connector_id="local"))
    assert named.status_code == 400 and "not allowed" in named.text
    started_there = only_mock.browse(only_mock.auth_url(state="s").replace("/auth?", "/auth/local?"))
    assert _error(started_there) == "invalid_request"
    # a sealed request for mock, taken to the local connector's pages
    form = only_mock.browse(only_mock.auth_url(state="s"))
    sealed = parse_qs(urlsplit(str(form.url)).query)["req"][0]
    assert _error(only_mock.browse(f"{dexpy.issuer}/auth/local?req={sealed}")) == "invalid_request"
    assert _error(only_mock.browse(f"{dexpy.issuer}/auth/local/login?req={sealed}")) == "invalid_request"


def test_single_sign_on_skips_a_session_from_a_connector_the_client_may_not_use(dexpy: DexpyServer) -> None:
    everyone = RelyingParty(dexpy.issuer)
    everyone.login(connector_id="local")  # a browser session through the password DB
    only_mock = _rp(dexpy, "only-mock", browser=everyone)
    assert _error(only_mock.browse(only_mock.auth_url(state="s", prompt="none"))) == "login_required"
    page = only_mock.browse(only_mock.auth_url(state="s"))
    assert str(page.url).startswith(f"{dexpy.issuer}/auth/mock/login?") and 'name="password"' in page.text


def test_single_sign_on_skips_a_session_whose_connector_is_gone(dexpy: DexpyServer) -> None:
    storage = dexpy.runtime.storage
    storage.create(ConnectorRecord(id="brief", type="mockPassword", name="Brief", config=json.dumps(MOCK).encode()))
    first = RelyingParty(dexpy.issuer)
    first.login(username="kilgore", password="kilgore-password", connector_id="brief")
    other = RelyingParty(dexpy.issuer, client_id="other-app", client_secret="other-secret",
                         redirect_uri="http://127.0.0.1:5556/other", browser=first.browser)
    resumed = other.browse(other.auth_url(state="s", prompt="none"))
    assert resumed.is_redirect and "error=consent_required" in resumed.headers["location"]  # the session works
    storage.delete(ConnectorRecord, "brief")
    gone = other.browse(other.auth_url(state="s", prompt="none"))
    assert gone.is_redirect and "error=login_required" in gone.headers["location"]
