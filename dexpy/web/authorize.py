"""The browser side of a login: /auth, the connector pages, the upstream callback and the approval page.

Every step carries the sealed login state (`req`, or `state` for upstream connectors) and runs as protocol work
on the event loop (`dexpy.loopwork`), as the token endpoint does: what waits in it (a directory round trip, a
SQLite write, bcrypt) parks the step while the loop serves other requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import quote

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dexpy import loopwork
from dexpy.connectors.base import (
    CallbackConnector,
    ConnectorError,
    ConnectorUnavailable,
    PasswordConnector,
    UserNotInRequiredGroups,
    implements,
)
from dexpy.connectors.manager import UnknownConnector
from dexpy.oidc.issuance import connector_scopes
from dexpy.oidc.loginstate import BadLoginState, LoginState
from dexpy.oidc.provider import AuthorizationResponse, BrowserError, RedirectError
from dexpy.oidc.sessions import Session, approval_needed
from dexpy.web.context import Browser, WebState, error_page, web
from dexpy.web.security import csrf_valid
from dexpy.web.sessions import current_session, issue_session

router = APIRouter()
log = logging.getLogger(__name__)

EXPIRED_MESSAGE = "Your login session has expired or is not valid in this browser. Please start again from the application."


def _multi(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in items:
        out.setdefault(key, []).append(value)
    return out


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def respond(state: WebState, answer: AuthorizationResponse) -> Response:
    if answer.mode == "oob":
        return HTMLResponse(state.renderer.render("oob.html", code=answer.params["code"]))
    if answer.mode == "form_post":
        return HTMLResponse(state.renderer.render("form_post.html", redirect_uri=answer.redirect_uri,
                                                  params=answer.params), headers={"Cache-Control": "no-store"})
    return _see_other(answer.location)


def redirect_error(state: WebState, err: RedirectError) -> Response:
    mode = "query" if err.response_mode in ("oob", "") else err.response_mode
    return respond(state, AuthorizationResponse(err.redirect_uri, {**err.params, "iss": state.provider.issuer}, mode))


async def _run(state: WebState, browser: Browser, func: Callable[..., Response], *args: object) -> Response:
    """Run a step as protocol work; turn the flow's errors into the page or redirect they call for."""
    try:
        response: Response = await loopwork.run(func, *args)
    except BrowserError as exc:
        response = error_page(state, exc.status, exc.message)
    except RedirectError as exc:
        response = redirect_error(state, exc)
    except BadLoginState:
        response = error_page(state, 400, EXPIRED_MESSAGE)
    except UnknownConnector:
        response = error_page(state, 404, "Requested connector does not exist.")
    except ConnectorUnavailable as exc:
        log.warning("login failed: identity provider unavailable: %s", exc)
        response = error_page(state, 503, "The identity provider's directory is unavailable. Please try again in a moment.")
    except UserNotInRequiredGroups:
        response = error_page(state, 403, "You are not allowed to use this application.")
    except ConnectorError as exc:
        log.warning("login failed: identity provider error: %s", exc)
        response = error_page(state, 500, "Login error. Please contact your administrator or try again later.")
    return browser.remember(response, state)


def _single_sign_on(state: WebState, request: Request, login: LoginState) -> Response | None:
    """Finish a new authorization request from the browser's session, when the request allows it."""
    session = current_session(request, state)
    resumed = state.provider.resume_session(login, session)
    return None if resumed is None else _after_login(state, resumed, session)


def _connector_url(state: WebState, connector_id: str, sealed: str) -> str:
    return state.provider.url(f"/auth/{quote(connector_id, safe='')}?req={sealed}")


@router.api_route("/auth", methods=["GET", "POST"])
async def auth(request: Request) -> Response:
    state, browser = web(request), Browser(request)
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    params = _multi(items)

    def step() -> Response:
        provider = state.provider
        if "req" in params and "client_id" not in params:
            login = provider.unseal(params["req"][0], browser.binding)
        else:
            login = provider.start_authorization(params, browser.binding)
            if (done := _single_sign_on(state, request, login)) is not None:
                return done
        allowed = provider.allowed_connectors(login)
        sealed = provider.seal(login)
        if login.connector_id:
            if login.connector_id not in allowed:
                raise BrowserError(400, "Requested connector is not allowed for this client.")
            return _see_other(_connector_url(state, login.connector_id, sealed))
        choose = provider.config.oauth2.always_show_login_screen or "select_account" in login.prompt.split()
        if len(allowed) == 1 and not choose:
            return _see_other(_connector_url(state, allowed[0], sealed))
        records = {r.id: r for r in provider.connectors.records()}
        connectors = [{"id": i, "name": records[i].name, "type": records[i].type,
                       "url": _connector_url(state, i, sealed)} for i in allowed]
        return HTMLResponse(state.renderer.render("login.html", connectors=connectors))

    return await _run(state, browser, step)


def _select_connector(state: WebState, login: LoginState, connector_id: str) -> tuple[LoginState, object]:
    provider = state.provider
    connector = provider.connectors.get(connector_id)  # UnknownConnector when it does not exist
    if not provider.client_allows(login, connector_id):
        raise RedirectError(InvalidRequestError("Connector not allowed for this client."), login.redirect_uri,
                            login.state, login.response_mode)
    login.connector_id = connector_id
    return login, connector


@router.get("/auth/{connector_id}")
async def auth_connector(connector_id: str, request: Request) -> Response:
    state, browser = web(request), Browser(request)
    params = _multi(list(request.query_params.multi_items()))

    def step() -> Response:
        provider = state.provider
        if "req" in params:
            login = provider.unseal(params["req"][0], browser.binding)
        else:  # Dex lets clients start at /auth/{connector} with the whole authorization request
            login = provider.start_authorization(params, browser.binding)
            if (done := _single_sign_on(state, request, login)) is not None:
                return done
        login, connector = _select_connector(state, login, connector_id)
        sealed = provider.seal(login)
        if implements(connector, PasswordConnector):
            return _see_other(state.provider.url(f"/auth/{quote(connector_id, safe='')}/login?req={sealed}"))
        if implements(connector, CallbackConnector):
            scopes = connector_scopes(login.scopes)
            return _see_other(connector.login_url(scopes, provider.url("/callback"), sealed))
        raise BrowserError(400, "This connector cannot log users in through the browser.")

    return await _run(state, browser, step)


def _password_page(state: WebState, browser: Browser, connector: PasswordConnector, request: Request, *,
                   username: str = "", invalid: bool = False) -> HTMLResponse:
    provider = state.provider
    back = provider.url(f"/auth?req={request.query_params.get('req', '')}") if len(provider.connectors.records()) > 1 else ""
    html = state.renderer.render(
        "password.html", post_url=str(request.url.path) + "?" + request.url.query, back_link=back, username=username,
        username_prompt=connector.prompt or "Username", invalid=invalid, csrf_token=browser.csrf(state))
    return HTMLResponse(html, status_code=401 if invalid else 200)


@router.get("/auth/{connector_id}/login")
async def password_form(connector_id: str, request: Request) -> Response:
    state, browser = web(request), Browser(request)

    def step() -> Response:
        login = state.provider.unseal(request.query_params.get("req", ""), browser.binding)
        _, connector = _select_connector(state, login, connector_id)
        if not implements(connector, PasswordConnector):
            raise BrowserError(400, "This connector does not take a password.")
        return _password_page(state, browser, connector, request)

    return await _run(state, browser, step)


@router.post("/auth/{connector_id}/login")
async def password_submit(connector_id: str, request: Request) -> Response:
    state, browser = web(request), Browser(request)
    form = await request.form()
    username, password = str(form.get("login", "")), str(form.get("password", ""))
    token = str(form.get("csrf_token", ""))

    def step() -> Response:
        provider = state.provider
        if browser.is_new or not csrf_valid(browser.cookie, token, provider.keys.current.state_keys):
            raise BrowserError(400, "The form has expired. Please go back and try again.")
        login = provider.unseal(request.query_params.get("req", ""), browser.binding)
        login, connector = _select_connector(state, login, connector_id)
        if not implements(connector, PasswordConnector):
            raise BrowserError(400, "This connector does not take a password.")
        identity = provider.login_with_password(connector_id, connector, connector_scopes(login.scopes),
                                                username, password, client_id=login.client_id)
        if identity is None:
            return _password_page(state, browser, connector, request, username=username, invalid=True)
        return _after_login(state, provider.finish_login(login, connector_id, identity),
                            current_session(request, state))

    return await _run(state, browser, step)


@router.api_route("/callback", methods=["GET", "POST"])
async def callback(request: Request) -> Response:
    state, browser = web(request), Browser(request)
    params: Mapping[str, str] = dict(request.query_params)
    if request.method == "POST":
        params = {**params, **{k: v for k, v in (await request.form()).items() if isinstance(v, str)}}

    def step() -> Response:
        provider = state.provider
        login = provider.unseal(params.get("state", ""), browser.binding)
        connector = provider.connectors.get(login.connector_id)
        if not implements(connector, CallbackConnector):
            raise BrowserError(400, "This connector does not take callbacks.")
        identity = connector.handle_callback(connector_scopes(login.scopes), params)
        return _after_login(state, provider.finish_login(login, login.connector_id, identity),
                            current_session(request, state))

    return await _run(state, browser, step)


def _after_login(state: WebState, login: LoginState, session: Session | None) -> Response:
    provider = state.provider
    login = replace(login, session_id=provider.sessions.session_id_for(login, session))
    if approval_needed(provider.needs_approval(login), login, session):
        return _see_other(provider.url(f"/approval?req={provider.seal(login)}"))
    return _authorized(state, login, session)


def _authorized(state: WebState, login: LoginState, session: Session | None) -> Response:
    """Issue to the client, and remember in the session cookie that it got tokens (refreshing idle time)."""
    response = respond(state, state.provider.authorize(login))
    return issue_session(response, state, state.provider.sessions.recorded(login, session))


@router.get("/approval")
async def approval_page(request: Request) -> Response:
    state, browser = web(request), Browser(request)

    def step() -> Response:
        provider = state.provider
        sealed = request.query_params.get("req", "")
        login = provider.unseal(sealed, browser.binding)
        if login.claims is None:
            raise BadLoginState("not logged in")
        client = provider.get_client(login.client_id)
        html = state.renderer.render(
            "approval.html", client_name=(client.name if client else "") or login.client_id,
            user=login.claims.username or login.claims.email, scopes=login.scopes, req=sealed,
            csrf_token=browser.csrf(state))
        return HTMLResponse(html)

    return await _run(state, browser, step)


@router.post("/approval")
async def approval_submit(request: Request) -> Response:
    state, browser = web(request), Browser(request)
    form = await request.form()

    def step() -> Response:
        provider = state.provider
        if browser.is_new or not csrf_valid(browser.cookie, str(form.get("csrf_token", "")),
                                             provider.keys.current.state_keys):
            raise BrowserError(400, "The form has expired. Please go back and try again.")
        login = provider.unseal(str(form.get("req", "")), browser.binding)
        if login.claims is None:
            raise BadLoginState("not logged in")
        if form.get("approval") != "approve":
            raise provider.deny(login)
        return _authorized(state, login, current_session(request, state))

    return await _run(state, browser, step)
