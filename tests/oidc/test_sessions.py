"""Browser sessions over real HTTP: SSO across clients, prompt, max_age, id_token_hint, the session cookie's
flags and its idle and absolute lifetimes."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from dexpy.clock import FrozenClock
from dexpy.config import load_config
from dexpy.model import Password
from dexpy.runtime import Runtime
from dexpy.server import listeners
from dexpy.web.app import create_app
from tests.fixtures.dexpy_server import ADMIN_PASSWORD_HASH, run_dexpy, write_config
from tests.fixtures.pki import make_pki
from tests.fixtures.rp import Login, RelyingParty

OTHER_REDIRECT = "http://127.0.0.1:5556/other"
SHORT_SESSIONS = "sessions:\n  absoluteLifetime: 3h\n  validIfNotUsedFor: 1h\n"


@pytest.fixture
def clock():
    # an hour in the past, so that tokens minted after the test moves time forward still verify
    return FrozenClock(datetime.now(timezone.utc) - timedelta(hours=1))


def _other(rp: RelyingParty) -> RelyingParty:
    """other-app in the same browser."""
    return RelyingParty(rp.issuer, client_id="other-app", client_secret="other-secret",
                        redirect_uri=OTHER_REDIRECT, browser=rp.browser)


def _visit(rp: RelyingParty, **params: str) -> httpx.Response:
    """Open the client's /auth URL; where dexpy stops: a page, or the redirect back to the client."""
    return rp.browse(rp.auth_url(state="st-1", **params))


def _password_form(response: httpx.Response) -> bool:
    return response.status_code == 200 and 'name="password"' in response.text


def _answer(rp: RelyingParty, response: httpx.Response) -> dict[str, str]:
    """The parameters of a redirect back to the client."""
    assert response.is_redirect and response.headers["location"].startswith(rp.redirect_uri), response.text[:300]
    return Login(response.headers["location"]).params


def test_a_second_client_signs_in_from_the_session_without_the_password(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        first = RelyingParty(server.issuer)
        one = first.id_token(first.login())["claims"]
        second = _other(first)
        page = _visit(second)
        assert not _password_form(page)
        assert 'name="approval"' in page.text  # consent is still this client's to give
        two = second.id_token(second.login(password="not-asked"))["claims"]
        assert two["sub"] == one["sub"] and two["sid"] == one["sid"]
        assert two["auth_time"] == one["auth_time"]
        # the first client, already approved in this session, goes straight through
        assert "code" in _answer(first, _visit(first))
        # another browser has no session
        assert _password_form(_visit(RelyingParty(server.issuer)))


def test_prompt_none_answers_without_ui(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        assert _answer(rp, _visit(rp, prompt="none")) == {
            "error": "login_required", "error_description": "The user is not logged in.", "state": "st-1",
            "iss": server.issuer}
        rp.login()
        silent = _visit(rp, prompt="none", nonce="n-1")
        assert set(_answer(rp, silent)) == {"code", "state", "iss"}
        tokens = rp.exchange(Login(silent.headers["location"]))
        assert tokens.status_code == 200, tokens.text
        assert rp.verify_id_token(tokens.json()["id_token"], nonce="n-1")["sub"]
        other = _other(rp)
        assert _answer(other, _visit(other, prompt="none"))["error"] == "consent_required"
        assert _answer(rp, _visit(rp, prompt="none login"))["error"] == "invalid_request"
        assert _answer(rp, _visit(rp, prompt="sometimes"))["error"] == "invalid_request"


def test_prompt_none_needs_no_consent_when_approval_is_skipped(tmp_path, clock):
    with run_dexpy(tmp_path, "oauth2:\n  skipApprovalScreen: true\n", clock=clock) as server:
        rp = RelyingParty(server.issuer)
        rp.login()
        other = _other(rp)
        assert "code" in _answer(other, _visit(other, prompt="none"))
        assert 'name="approval"' in _visit(other, prompt="consent").text  # asked for: shown anyway


def test_prompt_login_and_max_age_ask_for_the_password_again(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        first = rp.id_token(rp.login())["claims"]
        clock.advance(timedelta(minutes=5))
        assert _password_form(_visit(rp, prompt="login"))
        assert _password_form(_visit(rp, max_age="0"))
        assert _answer(rp, _visit(rp, max_age="0", prompt="none"))["error"] == "login_required"
        assert "code" in _answer(rp, _visit(rp, max_age="3600"))  # young enough: no password
        again = rp.id_token(rp.login(max_age="0"))["claims"]
        assert again["auth_time"] == first["auth_time"] + 300
        assert again["sid"] == first["sid"]  # the same user logged in again: the session goes on
        clock.advance(timedelta(minutes=1))
        relogin = rp.id_token(rp.login(prompt="login"))["claims"]
        assert relogin["auth_time"] == again["auth_time"] + 60


def test_select_account_shows_the_connector_list(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        rp.login()
        page = _visit(rp, prompt="select_account")
        assert page.status_code == 200 and "/auth/local?req=" in page.text and not _password_form(page)


def test_always_show_login_screen_lists_a_single_connector_instead_of_skipping_to_it(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        assert _password_form(_visit(RelyingParty(server.issuer)))  # one connector: straight to its form
    with run_dexpy(tmp_path, "oauth2:\n  alwaysShowLoginScreen: true\n", clock=clock) as server:
        page = _visit(RelyingParty(server.issuer))
        assert page.status_code == 200 and "/auth/local?req=" in page.text and not _password_form(page)


def test_id_token_hint_for_another_user(tmp_path, clock):
    with run_dexpy(tmp_path, "expiry:\n  idTokens: 2m\n", clock=clock) as server:
        server.runtime.storage.create(Password(email="jane@example.com", hash=ADMIN_PASSWORD_HASH.encode(),
                                               username="jane", user_id="jane-1"))
        jane = RelyingParty(server.issuer)
        jane_token = jane.exchange(jane.login(username="jane@example.com")).json()["id_token"]
        rp = RelyingParty(server.issuer)
        own_token = rp.exchange(rp.login()).json()["id_token"]
        clock.advance(timedelta(minutes=3))  # both hints have expired: their expiry does not matter
        assert _answer(rp, _visit(rp, prompt="none", id_token_hint=jane_token))["error"] == "login_required"
        assert _password_form(_visit(rp, id_token_hint=jane_token))
        assert "code" in _answer(rp, _visit(rp, prompt="none", id_token_hint=own_token))
        forged = own_token[:-4] + ("AAAA" if not own_token.endswith("AAAA") else "BBBB")
        assert _answer(rp, _visit(rp, id_token_hint=forged))["error"] == "invalid_request"


def _session_cookies(rp: RelyingParty, name: str = "dexpy_session") -> list[str]:
    """Record the Set-Cookie lines for the session cookie that the browser receives from now on."""
    seen: list[str] = []

    def record(response: httpx.Response) -> None:
        seen.extend(v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}="))

    rp.browser.event_hooks["response"].append(record)
    return seen


def _attributes(set_cookie: str) -> dict[str, str | bool]:
    morsel = next(iter(SimpleCookie(set_cookie).values()))
    return {k: morsel[k] for k in ("httponly", "samesite", "secure", "path", "max-age") if morsel[k]}


def test_session_cookie_flags_over_http(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        seen = _session_cookies(rp)
        rp.login()
        assert len(seen) == 1
        assert _attributes(seen[0]) == {"httponly": True, "samesite": "lax", "path": "/dex"}


@contextmanager
def _https_dexpy(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[str, Path]]:
    """dexpy serving https itself (the real listener), with its CA file."""
    files = make_pki().write(tmp_path)
    path = write_config(tmp_path)
    text = path.read_text().replace("issuer: http://", "issuer: https://")
    port = text.split("http: 127.0.0.1:")[1].split()[0]
    path.write_text(text.replace(f"http: 127.0.0.1:{port}", f"https: 127.0.0.1:{port}\n  tlsCert: "
                                 f"{files.server_cert}\n  tlsKey: {files.server_key}"))
    config = load_config(str(path))
    runtime = Runtime.open(config, clock=clock)
    (server,) = listeners(config, create_app(runtime, background=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield config.issuer, files.ca
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.close()


def test_session_cookie_is_secure_on_https(tmp_path, clock):
    with _https_dexpy(tmp_path, clock) as (issuer, ca):
        trust = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(verify=trust) as http, httpx.Client(verify=trust) as browser:
            rp = RelyingParty(issuer, http=http, browser=browser)
            seen = _session_cookies(rp)
            rp.id_token(rp.login())
            assert _attributes(seen[0]) == {"httponly": True, "samesite": "lax", "secure": True, "path": "/dex"}
            assert "code" in _answer(rp, _visit(rp, prompt="none"))


def test_idle_sessions_expire_and_use_keeps_them_alive(tmp_path, clock):
    with run_dexpy(tmp_path, SHORT_SESSIONS, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        rp.login()
        for _ in range(2):  # each use re-issues the cookie, so 2 × 59 min is fine
            clock.advance(timedelta(minutes=59))
            assert "code" in _answer(rp, _visit(rp, prompt="none"))
        clock.advance(timedelta(minutes=61))
        assert _answer(rp, _visit(rp, prompt="none"))["error"] == "login_required"
        assert _password_form(_visit(rp))


def test_sessions_end_after_their_absolute_lifetime_however_used(tmp_path, clock):
    with run_dexpy(tmp_path, SHORT_SESSIONS, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        rp.login()
        for _ in range(3):  # 50, 100, 150 minutes: inside the 3 h
            clock.advance(timedelta(minutes=50))
            assert "code" in _answer(rp, _visit(rp, prompt="none"))
        clock.advance(timedelta(minutes=50))
        assert _answer(rp, _visit(rp, prompt="none"))["error"] == "login_required"


def test_an_altered_session_cookie_is_ignored(tmp_path, clock):
    with run_dexpy(tmp_path, clock=clock) as server:
        rp = RelyingParty(server.issuer)
        rp.login()
        value = rp.browser.cookies["dexpy_session"]
        rp.browser.cookies.set("dexpy_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"),
                               domain="127.0.0.1", path="/dex")
        assert [c.value[-3:] for c in rp.browser.cookies.jar if c.name == "dexpy_session"] != [value[-3:]]
        assert len([c for c in rp.browser.cookies.jar if c.name == "dexpy_session"]) == 1
        assert _answer(rp, _visit(rp, prompt="none"))["error"] == "login_required"


def test_a_session_too_large_for_a_cookie_is_not_set(tmp_path, clock, caplog):
    with run_dexpy(tmp_path, clock=clock) as server, caplog.at_level(logging.WARNING, logger="dexpy.web.sessions"):
        server.runtime.storage.create(Password(email="many@example.com", hash=ADMIN_PASSWORD_HASH.encode(),
                                               username="many", user_id="many-1",
                                               groups=[f"group-{i:04d}" for i in range(400)]))
        rp = RelyingParty(server.issuer)
        seen = _session_cookies(rp)
        assert "code" in rp.login(username="many@example.com").params  # the login itself works
        assert seen == []
        assert [r.getMessage() for r in caplog.records if r.name == "dexpy.web.sessions"] == [
            "session too large for a cookie; single sign-on skipped"]
