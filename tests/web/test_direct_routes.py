"""The routes served before the router (dexpy.web.direct) as clients use them: discovery and JWKS with the
headers every dexpy answer carries, /token and /userinfo, CORS for browser apps when `web.allowedOrigins` is set,
and the login pages that take the connector id from their path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from dexpy.clock import FrozenClock
from dexpy.config import load_config
from dexpy.web.direct import DirectRoutes
from tests.fixtures.dexpy_server import BASE_YAML, DexpyServer, serve_config, write_config
from tests.fixtures.rp import RelyingParty
from tests.security.test_pages import assert_security_headers

APP = "https://app.example.com"
DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture(params=[False, True], ids=["no-cors", "cors"])
def server(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[DexpyServer]:
    base = BASE_YAML.replace("web:\n", f"web:\n  allowedOrigins: [{APP}]\n") if request.param else BASE_YAML
    with serve_config(load_config(str(write_config(tmp_path, base=base))), clock=clock) as server:
        yield server


def test_discovery_and_keys_publish_the_providers_documents_with_every_header(server: DexpyServer) -> None:
    provider = server.runtime.provider
    discovery = httpx.get(server.issuer + DISCOVERY)
    keys = httpx.get(server.issuer + "/keys")
    for answer in (discovery, keys):
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert int(answer.headers["content-length"]) == len(answer.content)
        assert answer.headers["x-request-id"]
        assert_security_headers(answer)
    assert discovery.json() == provider.discovery() and discovery.json()["issuer"] == server.issuer
    assert [k["kid"] for k in keys.json()["keys"]] == [provider.keys.current.kid]  # a new issuer: one key
    assert keys.headers["cache-control"] == "max-age=600, must-revalidate"


def test_keys_follow_a_rotation(server: DexpyServer, clock: FrozenClock) -> None:
    before = {k["kid"] for k in httpx.get(server.issuer + "/keys").json()["keys"]}
    clock.advance(timedelta(hours=6, seconds=1))  # expiry.signingKeys: 6h
    after = {k["kid"] for k in httpx.get(server.issuer + "/keys").json()["keys"]}
    assert after != before and before <= after  # the new key, and the old one kept for verification


def test_other_methods_are_refused(server: DexpyServer) -> None:
    for method, path in (("POST", DISCOVERY), ("POST", "/keys"), ("GET", "/token"), ("DELETE", "/userinfo")):
        answer = httpx.request(method, server.issuer + path)
        assert answer.status_code == 405, (method, path)


@pytest.mark.parametrize("path", [DISCOVERY, "/keys"])
def test_a_browser_app_on_an_allowed_origin_may_read_them(server: DexpyServer, path: str) -> None:
    cors = "web.allowedOrigins" if server.config.web.allowed_origins else None
    allowed = httpx.get(server.issuer + path, headers={"Origin": APP})
    stranger = httpx.get(server.issuer + path, headers={"Origin": "https://evil.example"})
    assert allowed.status_code == stranger.status_code == 200
    assert allowed.headers.get("access-control-allow-origin") == (APP if cors else None)
    assert "access-control-allow-origin" not in stranger.headers
    if cors:
        preflight = httpx.options(server.issuer + path, headers={"Origin": APP, "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == APP


def test_a_browser_app_on_an_allowed_origin_may_use_token_and_userinfo(server: DexpyServer) -> None:
    rp = RelyingParty(server.issuer, client_id="kubectl", client_secret="")  # a public client, as an SPA is
    login = rp.login(scope="openid email")
    tokens = rp.http.post(f"{server.issuer}/token", headers={"Origin": APP}, data={
        "grant_type": "authorization_code", "code": login.code, "redirect_uri": rp.redirect_uri,
        "client_id": "kubectl", "code_verifier": login.verifier})
    assert tokens.status_code == 200, tokens.text
    userinfo = rp.http.get(f"{server.issuer}/userinfo", headers={
        "Origin": APP, "Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["email"] == "admin@example.com"
    expected = APP if server.config.web.allowed_origins else None
    for answer in (tokens, userinfo):
        assert answer.headers.get("access-control-allow-origin") == expected
        assert_security_headers(answer)


def test_routes_with_the_connector_in_their_path_are_served_before_the_router() -> None:
    """The login pages take the connector id from the path: served directly with it, and with `path_params`
    set as the router would set them; a method the route does not take still goes to the router (its 405)."""
    router = APIRouter()
    seen: list[tuple[str, dict[str, str]]] = []

    @router.get("/auth/{connector_id}/login")
    async def page(connector_id: str, request: Request) -> Response:
        seen.append((connector_id, dict(request.path_params)))
        return Response("page")

    routed: list[str] = []

    async def the_router(scope: Scope, receive: Receive, send: Send) -> None:
        routed.append(f'{scope["method"]} {scope["path"]}')
        await Response("routed")(scope, receive, send)

    client = TestClient(DirectRoutes(the_router, prefix="/dex", routes=router.routes, cors=False, handlers={}))
    for method, path in (("GET", "/dex/auth/ldap/login"), ("POST", "/dex/auth/ldap/login"),
                         ("GET", "/dex/auth/a/b/login"), ("GET", "/auth/ldap/login")):
        assert client.request(method, path).status_code == 200
    assert seen == [("ldap", {"connector_id": "ldap"})]
    assert routed == ["POST /dex/auth/ldap/login", "GET /dex/auth/a/b/login", "GET /auth/ldap/login"]
