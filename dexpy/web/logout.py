"""The end-session endpoint, `/logout` (OIDC RP-Initiated Logout 1.0), GET and POST.

The session cookie, not the hint, decides which session ends. Without an id_token_hint naming that session
the user confirms on `logout.html` (a CSRF-protected POST), so a third-party page cannot log them out.
Back-channel notices go out after the response, so a slow receiver never holds up the user.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dexpy import loopwork
from dexpy.oidc.logout import LogoutError, LogoutRequest, deliver
from dexpy.web.context import Browser, WebState, error_page, web
from dexpy.web.security import csrf_valid
from dexpy.web.sessions import clear_session, current_session

router = APIRouter()

FORWARDED = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
"""The request parameters the confirmation form posts back."""


def _page(state: WebState, browser: Browser, request: LogoutRequest | None, params: dict[str, str], *,
          logged_out: bool) -> HTMLResponse:
    provider = state.provider
    hidden = {k: params[k] for k in FORWARDED if params.get(k)} if request else {}
    html = state.renderer.render("logout.html", issuer=provider.issuer, logged_out=logged_out,
                                 post_url=provider.url("/logout"), csrf_token=browser.csrf(state),
                                 hidden_fields=hidden)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.api_route("/logout", methods=["GET", "POST"])
async def end_session(request: Request) -> Response:
    state, browser = web(request), Browser(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})

    def step() -> Response:
        provider = state.provider
        try:
            logout = provider.logout.request(params)
        except LogoutError as exc:
            return error_page(state, 400, str(exc))
        session = current_session(request, state)
        confirmed = request.method == "POST" and not browser.is_new and csrf_valid(
            browser.cookie, params.get("csrf_token", ""), provider.keys.current.state_keys)
        if session is not None and not (confirmed or logout.names(session)):
            return _page(state, browser, logout, params, logged_out=False)
        deliveries = provider.logout.end(session, logout.client_id) if session is not None else []
        response: Response
        if logout.redirect_uri:
            response = RedirectResponse(logout.location, status_code=303)
        else:
            response = _page(state, browser, None, params, logged_out=True)
        response.background = BackgroundTask(deliver, deliveries)
        return clear_session(response, state)

    return browser.remember(await loopwork.run(step), state)
