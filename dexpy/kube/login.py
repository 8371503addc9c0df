"""`dexpy login`: an ID token from the cache, a silent refresh, or a new interactive login, in that order."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dexpy.clock import Clock, system_clock
from dexpy.kube.cache import CachedTokens, TokenCache
from dexpy.kube.flows import BrowserUnavailable, browser_login, device_login
from dexpy.kube.provider import DeviceAuthorization, OAuthError, Provider, TokenResponse, http_client, unverified_expiry

DEFAULT_SCOPES = ("openid", "email", "profile", "groups", "offline_access")
MIN_REMAINING = timedelta(seconds=30)
"""A cached token closer than this to its expiry is refreshed rather than handed to kubectl."""


def say(message: str) -> None:
    print(f"dexpy login: {message}", file=sys.stderr, flush=True)


def show_device_code(device: DeviceAuthorization) -> None:
    target = device.verification_uri_complete or device.verification_uri
    say(f"to sign in, open {target} and confirm the code {device.user_code}")


@dataclass(frozen=True)
class LoginOptions:
    issuer: str
    client_id: str
    cache_dir: Path
    client_secret: str = ""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    ca_file: str | None = None
    device: bool = False
    browser_timeout: float = 300.0


@dataclass(frozen=True)
class Seams:
    """What the outside world provides; tests replace the browser, the user and time."""

    open_browser: Callable[[str], bool]
    show_device_code: Callable[[DeviceAuthorization], None] = show_device_code
    sleep: Callable[[float], None] = time.sleep
    clock: Clock = field(default=system_clock)


@dataclass(frozen=True)
class IDToken:
    token: str
    expiry: datetime


def get_id_token(options: LoginOptions, seams: Seams) -> IDToken:
    cache = TokenCache(options.cache_dir)
    cached = cache.load(options.issuer, options.client_id)
    if cached is not None:
        expiry = unverified_expiry(cached.id_token)
        if expiry - seams.clock() > MIN_REMAINING:
            return IDToken(cached.id_token, expiry)
    with http_client(options.ca_file) as http:
        provider = Provider(options.issuer, options.client_id, options.client_secret, http, seams.clock)
        tokens = _refreshed(provider, cached) or _interactive(provider, options, seams)
    try:
        cache.save(CachedTokens(options.issuer, options.client_id, tokens.id_token, tokens.refresh_token))
    except OSError as exc:  # the login succeeded: hand kubectl its token, and say the next one will ask again
        say(f"cannot write the token cache {cache.directory}: {exc.strerror or exc}; the next login will ask again")
    return IDToken(tokens.id_token, unverified_expiry(tokens.id_token))


def _refreshed(provider: Provider, cached: CachedTokens | None) -> TokenResponse | None:
    if cached is None or not cached.refresh_token:
        return None
    try:
        tokens = provider.refresh(cached.refresh_token)
    except OAuthError as exc:
        say(f"could not refresh the cached token ({exc.code}); logging in again")
        return None
    provider.verify_id_token(tokens.id_token, None)
    return tokens


def _interactive(provider: Provider, options: LoginOptions, seams: Seams) -> TokenResponse:
    scopes = list(options.scopes)
    if not options.device:
        try:
            return browser_login(provider, scopes, seams.open_browser, options.browser_timeout)
        except BrowserUnavailable:
            if not provider.metadata.get("device_authorization_endpoint"):
                raise
            say("no browser could be opened; using the device flow instead")
    return device_login(provider, scopes, seams.show_device_code, seams.sleep, seams.clock)
