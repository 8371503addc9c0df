"""`dexpy login` against the real dexpy app on loopback: the test plays the browser (follows redirects and
posts the password form) and moves one injected clock shared by the server and the client."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from dexpy.clock import FrozenClock
from dexpy.config import Config, load_config
from dexpy.kube.cache import CachedTokens, TokenCache
from dexpy.kube.errors import UserError
from dexpy.kube.login import IDToken, LoginOptions, Seams, get_id_token
from dexpy.kube.provider import unverified_expiry
from tests.fixtures.dexpy_server import BASE_YAML, free_port, serve_config, write_config
from tests.fixtures.pki import make_pki


class Browser:
    """Logs in as admin@example.com the way a person would, and counts how often it was opened."""

    def __init__(self, ca_file: Path | None = None) -> None:
        self.opened = 0
        self.verify: str | bool = str(ca_file) if ca_file else True

    def __call__(self, url: str) -> bool:
        self.opened += 1
        with httpx.Client(timeout=10, verify=self.verify) as client:
            response = client.get(url)
            while response.is_redirect:
                response = client.get(urljoin(str(response.url), response.headers["location"]))
            action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', response.text).group(1))
            fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                     response.text))
            response = client.post(urljoin(str(response.url), action),
                                   data={**fields, "login": "admin@example.com", "password": "password"})
            while response.is_redirect:  # ends at the loopback receiver's "login complete" page
                response = client.get(urljoin(str(response.url), response.headers["location"]))
        assert response.status_code == 200 and "Login complete" in response.text, response.text
        return True


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(str(write_config(tmp_path, "oauth2:\n  skipApprovalScreen: true\n")))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def server(config: Config, clock: FrozenClock) -> Iterator[None]:
    with serve_config(config, clock=clock):
        yield


def login(config: Config, tmp_path: Path, browser: Browser, clock: FrozenClock) -> IDToken:
    options = LoginOptions(issuer=config.issuer, client_id="kubectl", cache_dir=tmp_path / "cache",
                           browser_timeout=10)
    return get_id_token(options, Seams(open_browser=browser, clock=clock))


def test_first_login_then_cache_without_network(config: Config, clock: FrozenClock, tmp_path: Path) -> None:
    browser = Browser()
    with serve_config(config, clock=clock):
        first = login(config, tmp_path, browser, clock)
    assert browser.opened == 1
    assert first.expiry == clock() + config.expiry.id_tokens
    cached = TokenCache(tmp_path / "cache").load(config.issuer, "kubectl")
    assert cached is not None and cached.id_token == first.token and cached.refresh_token
    # The server is gone: only the cache can answer.
    assert login(config, tmp_path, browser, clock) == first
    assert browser.opened == 1


def test_expired_token_is_refreshed_silently(config: Config, server: None, clock: FrozenClock, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    browser = Browser()
    first = login(config, tmp_path, browser, clock)
    old_refresh = TokenCache(tmp_path / "cache").load(config.issuer, "kubectl").refresh_token
    clock.advance(config.expiry.id_tokens + timedelta(minutes=1))
    second = login(config, tmp_path, browser, clock)
    assert browser.opened == 1
    assert second.token != first.token and second.expiry == clock() + config.expiry.id_tokens
    assert TokenCache(tmp_path / "cache").load(config.issuer, "kubectl").refresh_token != old_refresh
    assert capsys.readouterr().err == ""


def test_refused_refresh_falls_back_to_a_new_login(config: Config, server: None, clock: FrozenClock,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    browser = Browser()
    first = login(config, tmp_path, browser, clock)
    cache = TokenCache(tmp_path / "cache")
    cache.save(CachedTokens(config.issuer, "kubectl", first.token, "revoked-or-forged"))
    clock.advance(config.expiry.id_tokens + timedelta(minutes=1))
    again = login(config, tmp_path, browser, clock)
    assert browser.opened == 2
    assert unverified_expiry(again.token) == clock() + config.expiry.id_tokens
    assert "logging in again" in capsys.readouterr().err


def test_an_unwritable_cache_still_hands_out_the_token(config: Config, clock: FrozenClock, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    with serve_config(config, clock=clock):
        token = login(config, tmp_path, Browser(), clock)
    assert unverified_expiry(token.token) == token.expiry == clock() + config.expiry.id_tokens
    assert "cannot write the token cache" in capsys.readouterr().err


def test_login_against_dexpy_on_loopback_https_with_a_test_ca(tmp_path: Path, clock: FrozenClock) -> None:
    """As on a cluster: the issuer is HTTPS with a private CA, which `--certificate-authority` names."""
    files = make_pki().write(tmp_path)
    port = free_port()
    base = BASE_YAML.replace("issuer: {issuer}", f"issuer: https://127.0.0.1:{port}/dex").replace(
        "web:\n  http: 127.0.0.1:{port}",
        f"web:\n  https: 127.0.0.1:{port}\n  tlsCert: {files.server_cert}\n  tlsKey: {files.server_key}")
    config = load_config(str(write_config(tmp_path, "oauth2:\n  skipApprovalScreen: true\n", base=base)))
    options = LoginOptions(issuer=config.issuer, client_id="kubectl", cache_dir=tmp_path / "cache",
                           browser_timeout=10, ca_file=str(files.ca))
    with serve_config(config, clock=clock):
        token = get_id_token(options, Seams(open_browser=Browser(files.ca), clock=clock))
        with pytest.raises(UserError, match="CERTIFICATE_VERIFY_FAILED"):  # without the CA: refused
            get_id_token(dataclasses.replace(options, ca_file="", cache_dir=tmp_path / "other"),
                         Seams(open_browser=Browser(files.ca), clock=clock))
    assert config.issuer.startswith("https://")
    assert token.expiry == clock() + config.expiry.id_tokens
    assert TokenCache(tmp_path / "cache").load(config.issuer, "kubectl").id_token == token.token
