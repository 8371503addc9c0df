"""The device flow's routes (RFC 8628): the device's `/device/code`, and the browser's `/device` page, its
code form and `/device/callback`. The steps themselves are `dexpy.oidc.device.DeviceFlow`."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dexpy import loopwork
from dexpy.oidc.device import DeviceFlow
from dexpy.oidc.provider import BrowserError
from dexpy.web.adapter import FormRequest, oauth2_request
from dexpy.web.context import Browser, WebState, error_page, web
from dexpy.web.security import csrf_valid
from dexpy.web.token import oauth_response

router = APIRouter()


@router.post("/device/code")
async def device_code(request: Request) -> Response:
    provider = web(request).provider

    def start(oauth_request: FormRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        try:
            return 200, DeviceFlow(provider).start(oauth_request), []
        except OAuth2Error as error:
            return error()

    return await oauth_response(start, await oauth2_request(request, provider.url("/device/code")))


def _code_page(state: WebState, browser: Browser, user_code: str, *, invalid: bool) -> Response:
    html = state.renderer.render("device.html", post_url=state.provider.url("/device/auth/verify_code"),
                                 user_code=user_code, invalid=invalid, csrf_token=browser.csrf(state))
    return browser.remember(HTMLResponse(html, status_code=400 if invalid else 200), state)


@router.get("/device")
async def device_page(request: Request) -> Response:
    state = web(request)
    user_code = request.query_params.get("user_code", "")
    return _code_page(state, Browser(request), user_code, invalid=request.query_params.get("invalid") == "true")


@router.post("/device/auth/verify_code")
async def verify_code(request: Request) -> Response:
    state, browser = web(request), Browser(request)
    form = await request.form()
    user_code = str(form.get("user_code", ""))
    if browser.is_new or not csrf_valid(browser.cookie, str(form.get("csrf_token", "")),
                                         state.provider.keys.current.state_keys):
        return browser.remember(error_page(state, 400, "The form has expired. Please go back and try again."), state)
    url = await loopwork.run(DeviceFlow(state.provider).login_url, user_code, browser.binding)
    if url is None:
        return _code_page(state, browser, user_code, invalid=True)
    return RedirectResponse(url, status_code=303)


@router.get("/device/callback")
async def device_callback(request: Request) -> Response:
    state, browser = web(request), Browser(request)
    params = dict(request.query_params)
    try:
        client_name = await loopwork.run(DeviceFlow(state.provider).complete, params, browser.binding)
    except BrowserError as exc:
        return error_page(state, exc.status, exc.message)
    html = state.renderer.render("device_success.html", client_name=client_name)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
