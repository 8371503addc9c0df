"""Login state carried by the browser instead of a stored AuthRequest (Dex issue #1292).

A visit to `/auth` that never logs in writes nothing: the validated authorization request travels as a sealed
value (AES-256-GCM under the replicas' shared state key, so it is both secret and tamper-proof) through the
connector pages and back. It is bound to the browser that started it (a hash of its CSRF cookie), so a leaked
URL is useless elsewhere, and it expires after `expiry.authRequests`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dexpy.model import Claims
from dexpy.oidc import sealing
from dexpy.storage import codec

_AAD = b"dexpy-login-state-v1"


class BadLoginState(Exception):
    """The value is not one we sealed, was altered, belongs to another browser, or has expired."""


@dataclass
class LoginState:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    response_types: list[str]
    expiry: int
    """Unix seconds."""
    browser: str
    """Hash of the browser's CSRF cookie."""
    state: str = ""
    nonce: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""
    response_mode: str = ""
    force_approval: bool = False
    prompt: str = ""
    max_age: int | None = None
    connector_id: str = ""
    claims: Claims | None = None
    """Set once the user has logged in."""
    connector_data: str = ""
    """base64 of the connector's data."""
    auth_time: int = 0
    session_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def logged_in(self) -> bool:
        return self.claims is not None


def browser_binding(csrf_cookie: str) -> str:
    return hashlib.sha256(b"dexpy-browser\x00" + csrf_cookie.encode()).hexdigest()[:32]


def seal(state: LoginState, key: bytes) -> str:
    # codec.encode, not dataclasses.asdict: the same dict at a seventh of the cost (asdict deep-copies each value)
    return sealing.seal(json.dumps(codec.encode(state), separators=(",", ":")).encode(), key, _AAD)


def unseal(value: str, keys: tuple[bytes, ...], *, browser: str, now: datetime) -> LoginState:
    try:
        plaintext = sealing.unseal(value, keys, _AAD)
    except sealing.Unsealable as exc:
        raise BadLoginState(f"login state is {exc}") from exc
    data = json.loads(plaintext)
    claims = data.pop("claims")
    state = LoginState(**data, claims=Claims(**claims) if claims else None)
    if state.browser != browser:
        raise BadLoginState("login state belongs to another browser")
    if now >= datetime.fromtimestamp(state.expiry, timezone.utc):
        raise BadLoginState("login session expired")
    return state
