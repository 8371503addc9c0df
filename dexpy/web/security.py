"""Browser-facing defences: security headers on every response, and CSRF tokens bound to a browser cookie.

The CSRF cookie doubles as the browser identity that login state is bound to. Form tokens are an HMAC of the
cookie under the replicas' shared state key, so any replica can check them and a page cannot forge one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "dexpy_csrf"

BASE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action *; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Adds the base headers, HSTS on https, and the operator's `web.headers` (which win) to every response."""

    def __init__(self, app: ASGIApp, extra: dict[str, str], https: bool) -> None:
        self.app = app
        headers = dict(BASE_HEADERS)
        if https:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        headers.update(extra)
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {name for name, _ in headers}
                message["headers"] = [*headers, *[header for header in self._headers if header[0] not in present]]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(cookie: str, key: bytes) -> str:
    mac = hmac.new(key, b"dexpy-csrf\x00" + cookie.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_valid(cookie: str, token: str, keys: tuple[bytes, ...]) -> bool:
    presented = token.encode()  # bytes: compare_digest refuses non-ASCII str, and a form can post anything
    return bool(cookie and token) and any(hmac.compare_digest(csrf_token(cookie, k).encode(), presented) for k in keys)
