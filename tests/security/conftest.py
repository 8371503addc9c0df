"""A real dexpy on loopback with a frozen clock, and the browser steps the attack tests repeat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from dexpy.clock import Clock, FrozenClock
from dexpy.config import load_config
from tests.fixtures.dexpy_server import DexpyServer, run_dexpy, serve_config, write_config
from tests.fixtures.rp import RelyingParty, form_action, form_fields

NO_RATE_LIMIT = """
security:
  rateLimit:
    enabled: false
"""


@pytest.fixture
def dexpy(tmp_path: Path, clock: FrozenClock) -> Iterator[DexpyServer]:
    with run_dexpy(tmp_path, NO_RATE_LIMIT + "oauth2:\n  passwordConnector: local\n", clock=clock) as server:
        yield server


@pytest.fixture
def rp(dexpy: DexpyServer) -> RelyingParty:
    return RelyingParty(dexpy.issuer)


def password_page(rp: RelyingParty, **params: str) -> httpx.Response:
    """Open a fresh authorization request and stop at the password form."""
    page = rp.browse(rp.auth_url(state="s", nonce="n", **params))
    assert 'name="password"' in page.text, page.text[:300]
    return page


def submit_password(rp: RelyingParty, username: str, password: str, headers: dict[str, str] | None = None,
                    **params: str) -> httpx.Response:
    """One password attempt through the login form, as a browser makes it."""
    page = password_page(rp, **params)
    return rp.browser.post(form_action(page.text, str(page.url)), headers=headers,
                           data={**form_fields(page.text), "login": username, "password": password})


_VARYING = re.compile(r'(req=|name="csrf_token" value="|name="login" value=")[^"&]*')


def comparable(response: httpx.Response) -> str:
    """The page without what differs per request (sealed login state, CSRF token, the name typed)."""
    return _VARYING.sub(r"\1…", response.text)


def run_with_web(tmp_path: Path, yaml: str, clock: Clock) -> AbstractContextManager[DexpyServer]:
    """Like run_dexpy, with the `web:` part of `yaml` merged into the base config's (a key may not repeat)."""
    top, web = yaml.split("web:\n", 1)
    path = write_config(tmp_path, top)
    path.write_text(path.read_text().replace("web:\n", "web:\n" + web, 1))
    return serve_config(load_config(str(path)), clock=clock)
