"""What routes share: the running dexpy, the page renderer, the browser cookie, and error rendering."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from dexpy.oidc.loginstate import browser_binding
from dexpy.oidc.provider import Provider
from dexpy.runtime import Runtime
from dexpy.web.render import Renderer
from dexpy.web.security import CSRF_COOKIE, csrf_token, new_csrf_cookie


@dataclass
class WebState:
    runtime: Runtime
    renderer: Renderer
    cookie_path: str
    secure_cookies: bool
    discovery_json: bytes

    @property
    def provider(self) -> Provider:
        return self.runtime.provider


def web(request: Request) -> WebState:
    return request.app.state.web


class Browser:
    """The browser's CSRF cookie (made on first visit); it also identifies the browser for login state."""

    def __init__(self, request: Request) -> None:
        existing = request.cookies.get(CSRF_COOKIE, "")
        self.is_new = not existing
        self.cookie = existing or new_csrf_cookie()

    @property
    def binding(self) -> str:
        return browser_binding(self.cookie)

    def csrf(self, state: WebState) -> str:
        return csrf_token(self.cookie, state.provider.keys.current.state_keys[0])

    def remember(self, response: Response, state: WebState) -> Response:
        if self.is_new:
            response.set_cookie(CSRF_COOKIE, self.cookie, httponly=True, samesite="lax", secure=state.secure_cookies,
                                path=state.cookie_path)
        return response


def error_page(state: WebState, status: int, message: str) -> HTMLResponse:
    phrase = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              503: "Service Unavailable"}.get(status, "Internal Server Error")
    return HTMLResponse(state.renderer.render("error.html", err_type=phrase, err_msg=message), status_code=status)


def oauth_json_error(status: int, error: str, description: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})
