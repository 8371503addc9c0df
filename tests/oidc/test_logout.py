"""RP-initiated and back-channel logout over real HTTP: registered redirects only, confirmation without a
hint, the session's tokens stopped everywhere, and logout tokens a real receiver verifies."""

from __future__ import annotations

import base64
import json
import logging
import queue
import time
from datetime import timedelta

import httpx
import pytest

from dexpy.model import Client
from dexpy.storage.gc import GarbageCollector
from tests.fixtures.dexpy_server import DexpyServer, free_port, run_dexpy
from tests.fixtures.rp import RelyingParty, backchannel_receiver, form_action, form_fields

OFFLINE = "openid email offline_access"


def _client(server: DexpyServer, client_id: str, backchannel: str = "",
            browser: httpx.Client | None = None) -> RelyingParty:
    """Register a client with a post-logout redirect (and a back-channel URI) and play it in `browser`."""
    base = f"http://127.0.0.1:5557/{client_id}"
    server.runtime.storage.create(Client(id=client_id, name=client_id, secret=f"{client_id}-secret",
                                         redirect_uris=[f"{base}/callback"],
                                         post_logout_redirect_uris=[f"{base}/logged-out"],
                                         backchannel_logout_uri=backchannel))
    rp = RelyingParty(server.issuer, client_id=client_id, client_secret=f"{client_id}-secret",
                      redirect_uri=f"{base}/callback")
    if browser is not None:
        rp.browser = browser
    return rp


def _logged_out_uri(rp: RelyingParty) -> str:
    return rp.redirect_uri.replace("/callback", "/logged-out")


def _has_session(rp: RelyingParty) -> bool:
    response = rp.browse(rp.auth_url(prompt="none", state="probe"))
    assert response.is_redirect, response.text[:300]
    return "error=login_required" not in response.headers["location"]


def _cleared(response: httpx.Response) -> bool:
    lines = [v.lower() for v in response.headers.get_list("set-cookie") if v.startswith("dexpy_session=")]
    return len(lines) == 1 and "max-age=0" in lines[0] and "path=/dex" in lines[0]


def test_logout_with_a_hint_ends_the_session_and_its_tokens(tmp_path, clock, caplog):
    with run_dexpy(tmp_path, clock=clock) as server, caplog.at_level(logging.INFO, logger="dexpy.audit"):
        rp = _client(server, "portal")
        tokens = rp.id_token(rp.login(scope=OFFLINE))
        again = rp.id_token(rp.login(scope=OFFLINE, password="not-asked"))  # a second login in the session
        assert again["refresh_token"] != tokens["refresh_token"] and _has_session(rp)
        response = rp.browser.get(rp.logout_url(id_token_hint=tokens["id_token"], state="bye",
                                                post_logout_redirect_uri=_logged_out_uri(rp)))
        assert response.status_code == 303
        assert response.headers["location"] == _logged_out_uri(rp) + "?state=bye"
        assert _cleared(response)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        userinfo = rp.http.get(f"{server.issuer}/userinfo", headers=bearer)
        assert userinfo.status_code == 401
        refreshed = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        assert 'name="password"' in rp.browse(rp.auth_url(state="again")).text
        audits = [r for r in caplog.records if r.name == "dexpy.audit" and r.getMessage() == "logout"]
        assert [(r.client_id, r.session_id) for r in audits] == [("portal", tokens["claims"]["sid"])]
        # the revocation record is collected once the access tokens are dead; the refresh token stays dead
        clock.advance(timedelta(days=2))
        assert GarbageCollector(server.runtime.storage, clock).sweep_once()["revocation"] == 1
        for refresh_token in (tokens["refresh_token"], again["refresh_token"]):
            refreshed = rp.token(grant_type="refresh_token", refresh_token=refresh_token)
            assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_unregistered_post_logout_redirect_uris_are_refused(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = _client(server, "portal")
        wiki = _client(server, "wiki")
        hint = rp.id_token(rp.login())["id_token"]
        for uri in ("https://evil.example/", _logged_out_uri(rp) + "/x", _logged_out_uri(wiki)):
            response = rp.browser.get(rp.logout_url(id_token_hint=hint, post_logout_redirect_uri=uri))
            assert response.status_code == 400 and "location" not in response.headers
            assert "Unregistered post_logout_redirect_uri" in response.text
        assert rp.browser.get(rp.logout_url(id_token_hint=hint, client_id="wiki")).status_code == 400
        assert _has_session(rp)


def test_logout_without_a_hint_asks_the_user_first(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = _client(server, "portal")
        request = rp.logout_url(client_id="portal", post_logout_redirect_uri=_logged_out_uri(rp), state="s-9")
        nothing = rp.browser.get(request)  # no session: nothing to confirm, straight back
        assert nothing.headers["location"] == _logged_out_uri(rp) + "?state=s-9"
        assert "You are logged out" in rp.browser.get(rp.logout_url()).text
        rp.login()
        page = rp.browser.get(request)
        assert page.status_code == 200 and "Log out?" in page.text
        fields = form_fields(page.text)
        assert fields["csrf_token"] and fields["state"] == "s-9" and fields["client_id"] == "portal"
        forged = rp.browser.post(form_action(page.text, str(page.url)), data={**fields, "csrf_token": "x"})
        assert "Log out?" in forged.text and _has_session(rp)  # a page elsewhere cannot log the user out
        confirmed = rp.browser.post(form_action(page.text, str(page.url)), data=fields)
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == _logged_out_uri(rp) + "?state=s-9"
        assert _cleared(confirmed) and not _has_session(rp)


def _audience(token: str) -> str:
    """The `aud` of a JWT, unverified: only to pick which relying party verifies it."""
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["aud"])


def test_back_channel_logout_reaches_every_client_of_the_session(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server, backchannel_receiver() as receiver:
        portal = _client(server, "portal", receiver.url)
        wiki = _client(server, "wiki", receiver.url, browser=portal.browser)
        first = portal.id_token(portal.login())
        second = wiki.id_token(wiki.login(password="not-asked"))["claims"]
        RelyingParty(server.issuer, browser=portal.browser).login()  # example-app: no back-channel URI
        receiver.hold.clear()  # the receivers answer slowly
        started = time.monotonic()
        response = portal.browser.get(portal.logout_url(id_token_hint=first["id_token"]))
        assert response.status_code == 200 and "You are logged out" in response.text
        assert time.monotonic() - started < 2  # not held up by the slow receivers
        delivered = {_audience(t): t for t in (receiver.next_token(), receiver.next_token())}
        receiver.hold.set()
        assert set(delivered) == {"portal", "wiki"}
        verified = {rp.client_id: rp.verify_logout_token(delivered[rp.client_id]) for rp in (portal, wiki)}
        for claims in verified.values():
            assert claims["sid"] == first["claims"]["sid"] == second["sid"]
            assert claims["sub"] == first["claims"]["sub"]
            assert claims["exp"] - claims["iat"] == 120
        assert verified["portal"]["jti"] != verified["wiki"]["jti"]
        with pytest.raises(queue.Empty):
            receiver.next_token(timeout=0.5)  # example-app registered no back-channel URI


def test_a_failed_back_channel_delivery_is_logged(tmp_path, clock, caplog):
    with run_dexpy(tmp_path, clock=clock) as server, caplog.at_level(logging.WARNING, logger="dexpy.oidc.logout"):
        rp = _client(server, "portal", f"http://127.0.0.1:{free_port()}/gone")
        hint = rp.id_token(rp.login())["id_token"]
        assert rp.browser.get(rp.logout_url(id_token_hint=hint)).status_code == 200
        deadline = time.monotonic() + 5
        while not any(r.getMessage() == "back-channel logout failed" for r in caplog.records):
            assert time.monotonic() < deadline, "no failure was logged"
            time.sleep(0.05)
        failure = next(r for r in caplog.records if r.getMessage() == "back-channel logout failed")
        assert failure.client_id == "portal"
