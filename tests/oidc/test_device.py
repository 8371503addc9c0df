"""The device flow (RFC 8628) over real HTTP: the test plays the device (polling `/token`) and, with a second
HTTP client, the person at a browser (`/device` → `/auth` → password → approval → `/device/callback`).
Time is a FrozenClock shared with the server, so polling pace and expiry are tested without sleeping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from dexpy.clock import FrozenClock
from dexpy.model import Client
from tests.fixtures.dexpy_server import DexpyServer, run_dexpy
from tests.fixtures.rp import RelyingParty, form_action, form_fields, pkce_pair

SCOPES = "openid email profile groups offline_access"


@pytest.fixture
def clock() -> FrozenClock:
    """A minute behind: tokens minted after a few polls must not look issued in the future."""
    return FrozenClock(datetime.now(timezone.utc) - timedelta(minutes=1))


@pytest.fixture
def server(tmp_path: Path, clock: FrozenClock) -> Iterator[DexpyServer]:
    with run_dexpy(tmp_path, clock=clock) as server:
        yield server


@pytest.fixture
def device(server: DexpyServer) -> RelyingParty:
    """kubectl, the base config's public client, on a device."""
    return RelyingParty(server.issuer, client_id="kubectl", client_secret="")


def start(device: RelyingParty, **form: str) -> dict[str, str]:
    response = device.device_authorization(auth=False, scope=SCOPES, **form)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def poll_error(device: RelyingParty, device_code: str, **form: str) -> str:
    response = device.poll_device(device_code, **form)
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


def test_device_flow_end_to_end(server: DexpyServer, device: RelyingParty, clock: FrozenClock) -> None:
    assert device.discovery()["device_authorization_endpoint"] == f"{server.issuer}/device/code"
    grant = start(device)
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", grant["user_code"])
    assert grant["verification_uri"] == f"{server.issuer}/device"
    assert grant["verification_uri_complete"] == f"{server.issuer}/device?user_code={grant['user_code']}"
    assert (grant["expires_in"], grant["interval"]) == (300, 5)

    clock.advance(timedelta(seconds=5))
    assert poll_error(device, grant["device_code"]) == "authorization_pending"

    person = RelyingParty(server.issuer)
    typed = grant["user_code"].replace("-", "").lower()  # what a person may type
    page = person.enter_device_code(typed)
    assert page.status_code == 200 and "Device connected" in page.text and "kubectl" in page.text

    clock.advance(timedelta(seconds=5))
    response = device.poll_device(grant["device_code"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    claims = device.verify_id_token(tokens["id_token"])
    assert claims["email"] == "admin@example.com" and claims["groups"] == ["team-a", "team-a/admins"]
    refreshed = device.token(auth="none", grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text

    clock.advance(timedelta(seconds=5))
    assert poll_error(device, grant["device_code"]) == "invalid_grant"  # delivered exactly once


def test_polling_too_fast_grows_the_interval(device: RelyingParty, clock: FrozenClock) -> None:
    code = start(device)["device_code"]
    clock.advance(timedelta(seconds=5))
    assert poll_error(device, code) == "authorization_pending"
    clock.advance(timedelta(seconds=1))
    assert poll_error(device, code) == "slow_down"  # the interval is 10 s from now on
    clock.advance(timedelta(seconds=10))
    assert poll_error(device, code) == "authorization_pending"
    clock.advance(timedelta(seconds=5))
    assert poll_error(device, code) == "slow_down"  # 5 s is no longer enough


def test_expired_device_code(server: DexpyServer, device: RelyingParty, clock: FrozenClock) -> None:
    grant = start(device)
    clock.advance(timedelta(minutes=5, seconds=1))
    assert poll_error(device, grant["device_code"]) == "expired_token"
    page = RelyingParty(server.issuer).enter_device_code(grant["user_code"])
    assert page.status_code == 400 and "Invalid or expired user code" in page.text


def test_user_rejects_the_approval(server: DexpyServer, device: RelyingParty, clock: FrozenClock) -> None:
    grant = start(device)
    page = RelyingParty(server.issuer).enter_device_code(grant["user_code"], approve=False)
    assert page.status_code == 403 and "denied" in page.text
    clock.advance(timedelta(seconds=5))
    assert poll_error(device, grant["device_code"]) == "access_denied"


def test_wrong_user_code_shows_the_form_again(server: DexpyServer, device: RelyingParty) -> None:
    start(device)
    page = RelyingParty(server.issuer).enter_device_code("BCDF-GHJK")
    assert page.status_code == 400
    assert "Invalid or expired user code" in page.text and 'value="BCDF-GHJK"' in page.text


def test_an_unknown_device_code_is_an_invalid_grant(device: RelyingParty) -> None:
    """RFC 6749 §5.2: the device code is the grant, so an unknown one is `invalid_grant` (Dex: `invalid_request`),
    which tells a polling client to stop rather than to fix its request."""
    response = device.poll_device("not-a-device-code")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert response.headers["cache-control"] == "no-store"


def test_pkce_verifier_is_checked_when_a_challenge_was_given(server: DexpyServer, device: RelyingParty,
                                                               clock: FrozenClock) -> None:
    verifier, challenge = pkce_pair()
    grant = start(device, code_challenge=challenge, code_challenge_method="S256")
    RelyingParty(server.issuer).enter_device_code(grant["user_code"])
    clock.advance(timedelta(seconds=5))
    assert poll_error(device, grant["device_code"]) == "invalid_grant"  # no verifier
    clock.advance(timedelta(seconds=5))
    assert poll_error(device, grant["device_code"], code_verifier=pkce_pair()[0]) == "invalid_grant"
    clock.advance(timedelta(seconds=5))
    response = device.poll_device(grant["device_code"], code_verifier=verifier)
    assert response.status_code == 200 and "id_token" in response.json()


def test_confidential_client_authenticates(server: DexpyServer, clock: FrozenClock) -> None:
    # Registered the way Dex configs do it: the device callback by its path.
    server.runtime.storage.create(Client(id="tv-app", name="TV App", secret="tv-secret",
                                         redirect_uris=["/dex/device/callback"]))
    tv = RelyingParty(server.issuer, client_id="tv-app", client_secret="tv-secret")
    refused = tv.device_authorization(auth=False)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    grant = tv.device_authorization().json()
    page = RelyingParty(server.issuer).enter_device_code(grant["user_code"])
    assert page.status_code == 200 and "TV App" in page.text, page.text
    clock.advance(timedelta(seconds=5))
    response = tv.poll_device(grant["device_code"])
    assert response.status_code == 200
    assert tv.verify_id_token(response.json()["id_token"])["aud"] == "tv-app"


def test_code_form_needs_its_csrf_token(server: DexpyServer, device: RelyingParty) -> None:
    grant = start(device)
    person = RelyingParty(server.issuer)
    page = person.browse(f"{server.issuer}/device?user_code={grant['user_code']}")
    assert f'value="{grant["user_code"]}"' in page.text
    fields = {**form_fields(page.text), "csrf_token": "forged"}
    response = person.browser.post(form_action(page.text, str(page.url)), data=fields)
    assert response.status_code == 400 and "/auth" not in response.headers.get("location", "")


def test_callback_cannot_be_forged_from_another_browser(server: DexpyServer, device: RelyingParty,
                                                         clock: FrozenClock) -> None:
    grant = start(device)
    person = RelyingParty(server.issuer)
    page = person.browse(f"{server.issuer}/device")
    start_login = person.browser.post(form_action(page.text, str(page.url)),
                                      data={**form_fields(page.text), "user_code": grant["user_code"]})
    state = httpx.URL(start_login.headers["location"]).params["state"]
    attacker = RelyingParty(server.issuer)
    denied = attacker.browse(f"{server.issuer}/device/callback?error=access_denied&state={state}")
    assert denied.status_code == 400
    plain = attacker.browse(f"{server.issuer}/device/callback?error=access_denied&state={grant['user_code']}")
    assert plain.status_code == 400
    clock.advance(timedelta(seconds=5))
    assert poll_error(device, grant["device_code"]) == "authorization_pending"
