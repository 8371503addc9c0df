"""The session cookie: read it, (re)issue it, clear it. HttpOnly, SameSite=Lax, Secure on https, scoped to the
issuer's path, and a browser-session cookie (the lifetimes are enforced inside the sealed value)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from dexpy.oidc.sessions import Session
from dexpy.web.context import WebState

log = logging.getLogger(__name__)

MAX_COOKIE_VALUE = 4000
"""Browsers drop cookies over 4096 bytes (name and attributes included); a session that big is not set."""


def _name(state: WebState) -> str:
    return state.provider.config.sessions.cookie_name


def current_session(request: Request, state: WebState) -> Session | None:
    """The browser's live session, if any (reads storage: call it as protocol work, `dexpy.loopwork`)."""
    value = request.cookies.get(_name(state), "")
    return state.provider.sessions.open(value) if value else None


def issue_session(response: Response, state: WebState, session: Session) -> Response:
    value = state.provider.sessions.seal(session)
    if len(value) > MAX_COOKIE_VALUE:
        log.warning("session too large for a cookie; single sign-on skipped",
                    extra={"connector_id": session.connector_id, "size": len(value)})
        return response
    response.set_cookie(_name(state), value, httponly=True, samesite="lax", secure=state.secure_cookies,
                        path=state.cookie_path)
    return response


def clear_session(response: Response, state: WebState) -> Response:
    response.delete_cookie(_name(state), httponly=True, samesite="lax", secure=state.secure_cookies,
                           path=state.cookie_path)
    return response
