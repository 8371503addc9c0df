"""The two interactive logins: authorization code + PKCE through the loopback redirect, and the device flow."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from dexpy.clock import Clock
from dexpy.kube import pkce
from dexpy.kube.errors import UserError
from dexpy.kube.loopback import LoopbackReceiver
from dexpy.kube.provider import DeviceAuthorization, OAuthError, Provider, TokenResponse


class BrowserUnavailable(UserError):
    """No browser could be opened; the caller may fall back to the device flow."""


def browser_login(provider: Provider, scopes: list[str], open_browser: Callable[[str], bool],
                  timeout: float) -> TokenResponse:
    state, nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16), pkce.new_verifier()
    authorize = provider.endpoint("authorization_endpoint")
    with LoopbackReceiver(state) as receiver:
        query = urlencode({
            "response_type": "code", "client_id": provider.client_id, "redirect_uri": receiver.redirect_uri,
            "scope": " ".join(scopes), "state": state, "nonce": nonce,
            "code_challenge": pkce.s256_challenge(verifier), "code_challenge_method": "S256"})
        url = f"{authorize}{'&' if '?' in authorize else '?'}{query}"
        if not open_browser(url):
            raise BrowserUnavailable("no browser could be opened (with --no-browser, dexpy prints the login URL)")
        code = receiver.wait(timeout)
        tokens = provider.exchange_code(code, receiver.redirect_uri, verifier)
    provider.verify_id_token(tokens.id_token, nonce)
    return tokens


def device_login(provider: Provider, scopes: list[str], show: Callable[[DeviceAuthorization], None],
                 sleep: Callable[[float], None], clock: Clock) -> TokenResponse:
    """RFC 8628: show the user code, then poll the token endpoint at the pace the issuer asks for (§3.5)."""
    verifier = pkce.new_verifier()
    device = provider.start_device(scopes, pkce.s256_challenge(verifier))
    show(device)
    deadline = clock() + timedelta(seconds=device.expires_in)
    interval = device.interval
    while True:
        sleep(interval)
        try:
            tokens = provider.poll_device(device.device_code, verifier)
            break
        except OAuthError as exc:
            if exc.code == "slow_down":
                interval += 5
            elif exc.code != "authorization_pending":
                raise
        if clock() >= deadline:
            raise UserError("the device code expired before the login was completed")
    provider.verify_id_token(tokens.id_token, None)
    return tokens
