"""The device_code grant (RFC 8628 §3.4-3.5): the device polls for the token response that the browser side
(`dexpy.oidc.device`) stored once the user logged in.

As in Dex the device code alone identifies the device: client credentials are not asked for (a public device
has none, and a confidential one authenticated at `/device/code`). Writes are few: a pending poll records its
time (and a grown interval after `slow_down`); the one successful poll clears the stored response in a
compare-and-swap, so it is delivered exactly once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636.challenge import compare_plain_code_challenge, compare_s256_code_challenge
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError

from dexpy.config import DEVICE_CODE_GRANT
from dexpy.model import DeviceToken
from dexpy.oidc.grants.base import IssuanceMixin
from dexpy.oidc.issuance import NO_STORE_HEADERS
from dexpy.storage import NotFound

POLL_INTERVAL = 5
"""Seconds (RFC 8628 §3.2 default); `slow_down` adds 5 to a device's interval."""
STATUS_PENDING = "authorization_pending"
STATUS_COMPLETE = "complete"
"""Dex's two statuses; the two below are dexpy's (Dex answers "Invalid Device code." to both)."""
STATUS_DENIED = "access_denied"
STATUS_DELIVERED = "delivered"
"""The token response went to the device; it is cleared from storage and never given out again."""

_COMPARE = {"plain": compare_plain_code_challenge, "S256": compare_s256_code_challenge}


class _Delivered(Exception):
    pass


def check_verifier(verifier: str, token: DeviceToken) -> None:
    """Dex's PKCE rules (`server/grants/pkce.go`) against the challenge given at `/device/code`."""
    if verifier and token.code_challenge:
        compare = _COMPARE.get(token.code_challenge_method or "plain")
        if compare is None or not compare(verifier, token.code_challenge):
            raise InvalidGrantError("Invalid code_verifier.")
    elif verifier:
        raise InvalidRequestError("No PKCE flow started. Cannot check code_verifier.")
    elif token.code_challenge:
        raise InvalidGrantError("Expecting parameter code_verifier in PKCE flow.")


class DeviceCodeGrant(IssuanceMixin, BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = DEVICE_CODE_GRANT

    def validate_token_request(self) -> None:
        device_code = self.single_param("device_code")
        self.single_param("code_verifier")
        if not device_code:
            raise InvalidRequestError("No device code received.")
        try:
            self.request.device_token = self.server.storage.get(DeviceToken, device_code)
        except NotFound:  # the device code is the grant (RFC 6749 §5.2); Dex says `invalid_request` here
            raise InvalidGrantError("Invalid device code.") from None

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: DeviceToken = self.request.device_token
        now = self.issuance.clock()
        if token.expiry <= now:
            raise ExpiredTokenError()
        if token.status == STATUS_PENDING:
            self._pending(token, now)
        if token.status == STATUS_DENIED:
            raise AccessDeniedError("The user denied the request.")
        if token.status != STATUS_COMPLETE:
            raise InvalidGrantError("The device code has already been used.")
        check_verifier(self.single_param("code_verifier") or "", token)
        return 200, self._deliver(token.device_code), NO_STORE_HEADERS

    def _pending(self, token: DeviceToken, now: datetime) -> None:
        """Record this poll; `slow_down` (interval + 5 s, kept) when it came sooner than the interval allows."""
        interval = max(token.poll_interval, POLL_INTERVAL)
        too_fast = now < token.last_request + timedelta(seconds=interval)
        grown = interval + 5 if too_fast else interval

        def record(current: DeviceToken) -> DeviceToken:
            return replace(current, last_request=now, poll_interval=max(current.poll_interval, grown))

        self.server.storage.update(DeviceToken, token.device_code, record)
        raise SlowDownError() if too_fast else AuthorizationPendingError()

    def _deliver(self, device_code: str) -> dict[str, Any]:
        stored: dict[str, str] = {}

        def take(current: DeviceToken) -> DeviceToken:
            if current.status != STATUS_COMPLETE:
                raise _Delivered()
            stored["token"] = current.token
            return replace(current, status=STATUS_DELIVERED, token="")

        try:
            self.server.storage.update(DeviceToken, device_code, take)
        except (_Delivered, NotFound):
            raise InvalidGrantError("The device code has already been used.") from None
        body: dict[str, Any] = json.loads(stored["token"])
        return body
