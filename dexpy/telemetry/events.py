"""Turns finished web exchanges into audit lines and domain metrics: logins by connector and result, tokens
issued by grant, refresh failures by reason. It reads only what the web layer already has (the form, the
sealed login state, the JSON answer), so the OIDC code needs no telemetry calls."""

from __future__ import annotations

import base64
import binascii
import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dexpy.logs import audit
from dexpy.oidc.loginstate import BadLoginState, LoginState, browser_binding
from dexpy.oidc.provider import Provider
from dexpy.oidc.wire import decode_subject
from dexpy.telemetry import LOGINS, REFRESH_FAILURES, TOKENS
from dexpy.telemetry.http import Exchange
from dexpy.web.security import CSRF_COOKIE

GRANT_REFRESH = "refresh_token"
GRANT_PASSWORD = "password"
_LOGIN_RESULTS = {403: "denied", 503: "unavailable"}


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _query(exchange: Exchange) -> dict[str, str]:
    return _form(exchange.query)


def _login_result(exchange: Exchange, *, form_shown_again: str) -> str:
    if exchange.status in (302, 303):
        return "success"
    if exchange.status in (200, 401):  # the form again, with "invalid credentials" (401)
        return form_shown_again
    return _LOGIN_RESULTS.get(exchange.status, "error")


def _basic_client_id(headers: dict[str, str]) -> str:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return unquote(base64.b64decode(value).decode().partition(":")[0])
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _token_subject(body: dict[str, Any]) -> tuple[str, str]:
    """(user_id, connector_id) from the `sub` of the access token dexpy just issued (no need to verify it)."""
    try:
        payload = str(body["access_token"]).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return decode_subject(str(claims["sub"]))
    except (KeyError, IndexError, ValueError, TypeError):
        return "", ""


class WebObserver:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def __call__(self, exchange: Exchange) -> None:
        if exchange.handler == "/token":
            self._token(exchange)
        elif exchange.method == "POST" or exchange.handler == "/callback":
            self._login(exchange)

    def _state(self, sealed: str, exchange: Exchange) -> LoginState | None:
        cookies = SimpleCookie(exchange.headers.get("cookie", ""))
        cookie = cookies[CSRF_COOKIE].value if CSRF_COOKIE in cookies else ""
        if not sealed or not cookie:
            return None
        try:
            return self.provider.unseal(sealed, browser_binding(cookie))
        except BadLoginState:
            return None

    def _login(self, exchange: Exchange) -> None:
        query = _query(exchange)
        if exchange.handler == "/callback":
            before = self._state(query.get("state", ""), exchange)
            typed = ""
            result = _login_result(exchange, form_shown_again="error")
        else:
            before = self._state(query.get("req", ""), exchange)
            typed = _form(exchange.request_body).get("login", "")
            result = _login_result(exchange, form_shown_again="invalid_credentials")
        location = urlsplit(exchange.response_headers.get("location", ""))
        after = self._state(parse_qs(location.query).get("req", [""])[0], exchange) if result == "success" else None
        claims = after.claims if after else None
        connector = exchange.path_params.get("connector_id") or (before.connector_id if before else "")
        LOGINS.labels(connector=connector or "unknown", result=result).inc()
        audit("login", result=result, user=(claims.email or claims.username) if claims else typed,
              user_id=claims.user_id if claims else "", connector_id=connector,
              client_id=before.client_id if before else "")

    def _token(self, exchange: Exchange) -> None:
        form = _form(exchange.request_body)
        grant = form.get("grant_type", "")
        client_id = _basic_client_id(exchange.headers) or form.get("client_id", "")
        try:
            body = json.loads(exchange.response_body or b"{}")
        except ValueError:
            body = {}
        event = "refresh" if grant == GRANT_REFRESH else "token"
        if exchange.status == 200:
            TOKENS.labels(grant_type=grant).inc()
            user_id, connector_id = _token_subject(body)
            audit(event, result="success", grant_type=grant, user_id=user_id, connector_id=connector_id,
                  client_id=client_id)
        else:
            reason = str(body.get("error", exchange.status)) if isinstance(body, dict) else str(exchange.status)
            if grant == GRANT_REFRESH:
                REFRESH_FAILURES.labels(reason=reason).inc()
            audit(event, result="failure", reason=reason, grant_type=grant, client_id=client_id)
        if grant == GRANT_PASSWORD:
            connector = self.provider.config.oauth2.password_connector or "unknown"
            result = "success" if exchange.status == 200 else "invalid_credentials" if exchange.status in (400, 401) else "error"
            LOGINS.labels(connector=connector, result=result).inc()
            audit("login", result=result, user=form.get("username", ""), connector_id=connector, client_id=client_id)
