"""The device authorization grant's server side (RFC 8628; Dex `server/device/device.go`), without HTTP.

`/device/code` stores a DeviceRequest (keyed by the user code) and a DeviceToken (keyed by the device code).
The user enters the code in a browser; dexpy sends that browser through the ordinary login at `/auth` with the
device callback as redirect URI, and `complete` stores the token response on the DeviceToken for the polling
device (`dexpy.oidc.grants.device_code`).

The login is tied to its device request by a `state` sealed for the browser that entered the code, and the
code it yields by a PKCE challenge derived from that state, so neither a code nor a denial can be injected
into someone else's device request. (The challenge also keeps the flow working with `oauth2.pkce.enforce`.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, UnauthorizedClientError
from authlib.oauth2.rfc7636.challenge import create_s256_code_challenge

from dexpy.config import DEVICE_CODE_GRANT
from dexpy.ids import new_secret_id, new_user_code
from dexpy.model import AuthCode, DeviceRequest, DeviceToken
from dexpy.oidc import scopes as sc
from dexpy.oidc import sealing
from dexpy.oidc.grants.authorization_code import redeem
from dexpy.oidc.grants.base import single_form_param
from dexpy.oidc.grants.device_code import POLL_INTERVAL, STATUS_COMPLETE, STATUS_DENIED, STATUS_PENDING
from dexpy.oidc.provider import BrowserError, Provider
from dexpy.storage import AlreadyExists, NotFound

log = logging.getLogger(__name__)

_STATE_AAD = b"dexpy-device-state-v1\x00"
EXPIRED_DEVICE = "Invalid or expired device request. Please start again on your device."


def normalize_user_code(raw: str) -> str:
    """What a person may type for `BCDF-GHJK`: any case, with or without the dash, stray spaces."""
    code = "".join(raw.split()).replace("-", "").upper()
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def binding_challenge(state: str, method: str) -> str:
    """The PKCE challenge sent to `/auth` for a device login, derived from its sealed state."""
    return create_s256_code_challenge(state) if method == "S256" else state


class DeviceFlow:
    """One device flow step per method; built per request from the provider (it holds no state)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.storage = provider.storage
        self.clock = provider.clock

    # -- /device/code ---------------------------------------------------------------------------------------

    def start(self, request: OAuth2Request) -> dict[str, Any]:
        """Authenticate the client (confidential clients with their secret), then store the request."""
        for name in request.payload.datalist:
            single_form_param(request, name)  # no parameter may repeat (RFC 6749 §3.1, RFC 8628 §3.1)
        provider = self.provider
        client = provider.server.authenticate_client(request, ["client_secret_basic", "client_secret_post", "none"],
                                                     "device_authorization")
        if not client.check_grant_type(DEVICE_CODE_GRANT):
            raise UnauthorizedClientError("The device flow is not enabled.")
        form = request.payload.data
        scopes = sc.split_scopes(form.get("scope")) or [sc.OPENID]
        sc.check_requested_scopes(scopes, client.get_client_id(), provider.get_client)
        challenge = form.get("code_challenge", "")
        method = form.get("code_challenge_method") or ("plain" if challenge else "")
        if challenge and method not in provider.config.oauth2.pkce.code_challenge_methods_supported:
            raise InvalidRequestError(f"Unsupported PKCE challenge method ({method}).")
        now = self.clock()
        ttl = provider.config.expiry.device_requests
        device_code = new_secret_id()
        user_code = self._create_request(DeviceRequest(
            user_code="", device_code=device_code, client_id=client.get_client_id(), expiry=now + ttl,
            client_secret=client.client.secret, scopes=scopes))
        self.storage.create(DeviceToken(
            device_code=device_code, status=STATUS_PENDING, expiry=now + ttl, last_request=now,
            poll_interval=POLL_INTERVAL, code_challenge=challenge, code_challenge_method=method if challenge else ""))
        verification_uri = provider.url("/device")
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?{urlencode({'user_code': user_code})}",
            "expires_in": int(ttl.total_seconds()),
            "interval": POLL_INTERVAL,
        }

    def _create_request(self, request: DeviceRequest) -> str:
        """Store under a fresh user code; 20^8 codes make a clash rare, but a clash must not fail the device."""
        for _ in range(3):
            user_code = new_user_code()
            try:
                self.storage.create(replace(request, user_code=user_code))
                return user_code
            except AlreadyExists:
                continue
        raise AlreadyExists("no free user code")

    # -- /device/auth/verify_code ---------------------------------------------------------------------------

    def login_url(self, user_code: str, browser: str) -> str | None:
        """Where the browser logs in for this user code, or None when the code is unknown or expired."""
        try:
            request = self.storage.get(DeviceRequest, normalize_user_code(user_code))
        except NotFound:
            return None
        if request.expiry <= self.clock():
            return None
        provider = self.provider
        state = sealing.seal(request.user_code.encode(), provider.keys.current.state_keys[0],
                             _STATE_AAD + browser.encode())
        method = "S256" if "S256" in provider.config.oauth2.pkce.code_challenge_methods_supported else "plain"
        query = {"client_id": request.client_id, "response_type": "code", "scope": " ".join(request.scopes),
                 "redirect_uri": provider.device_callback_url, "state": state,
                 "code_challenge": binding_challenge(state, method), "code_challenge_method": method}
        return provider.url(f"/auth?{urlencode(query)}")

    # -- /device/callback -----------------------------------------------------------------------------------

    def complete(self, params: dict[str, str], browser: str) -> str:
        """Finish the login: store the token response for the device (and return the client's name for the
        page), or record that the user said no."""
        request = self._bound_request(params.get("state", ""), browser)
        error = params.get("error", "")
        if error == "access_denied":
            self._finish(request.device_code, lambda token: replace(token, status=STATUS_DENIED))
            log.info("device flow denied by the user", extra={"client_id": request.client_id})
            raise BrowserError(403, "You denied the request; the device will not be signed in.")
        if error or not params.get("code"):
            raise BrowserError(400, "Authorization failed. Please try again.")
        code = self._bound_code(params["code"], params["state"], request)
        self._check_pending(request.device_code)
        body = redeem(self.provider.issuance, code, DEVICE_CODE_GRANT)
        stored = json.dumps(body)
        self._finish(request.device_code, lambda token: replace(token, status=STATUS_COMPLETE, token=stored))
        log.info("device flow completed", extra={"client_id": request.client_id})
        client = self.provider.get_client(request.client_id)
        return (client.name if client else "") or request.client_id

    def _bound_request(self, state: str, browser: str) -> DeviceRequest:
        keys = self.provider.keys.current.state_keys
        try:
            user_code = sealing.unseal(state, keys, _STATE_AAD + browser.encode()).decode()
            request = self.storage.get(DeviceRequest, user_code)
        except (sealing.Unsealable, NotFound):
            raise BrowserError(400, EXPIRED_DEVICE) from None
        if request.expiry <= self.clock():
            raise BrowserError(400, EXPIRED_DEVICE)
        return request

    def _bound_code(self, code_id: str, state: str, request: DeviceRequest) -> AuthCode:
        """The code this device login yielded: same client, device callback, and the state's challenge."""
        try:
            code = self.storage.get(AuthCode, code_id)
        except NotFound:
            raise BrowserError(400, "Invalid or expired auth code.") from None
        bound = (
            code.client_id == request.client_id
            and code.redirect_uri == self.provider.device_callback_url
            and code.code_challenge == binding_challenge(state, code.code_challenge_method)
        )
        if not bound or code.used or code.expiry <= self.clock():
            raise BrowserError(400, "Invalid or expired auth code.")
        return code

    def _check_pending(self, device_code: str) -> None:
        """Before the code is spent: the device must still be waiting."""
        try:
            token: DeviceToken | None = self.storage.get(DeviceToken, device_code)
        except NotFound:
            token = None
        if token is None or token.status != STATUS_PENDING or token.expiry <= self.clock():
            raise BrowserError(400, EXPIRED_DEVICE)

    def _finish(self, device_code: str, change: Callable[[DeviceToken], DeviceToken]) -> None:
        """Move a pending DeviceToken to its outcome in one compare-and-swap."""

        def update(current: DeviceToken) -> DeviceToken:
            if current.status != STATUS_PENDING:
                raise _NotPending()
            return change(current)

        try:
            self.storage.update(DeviceToken, device_code, update)
        except (_NotPending, NotFound):
            raise BrowserError(400, EXPIRED_DEVICE) from None


class _NotPending(Exception):
    pass
