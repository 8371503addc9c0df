"""UserInfo (OIDC Core §5.3): the claims of a valid access token; RFC 6750 errors otherwise."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from dexpy import loopwork
from dexpy.oidc.tokens import InvalidToken
from dexpy.storage import Unavailable
from dexpy.web.context import oauth_json_error, web

router = APIRouter()


def bearer_token(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    token = bearer_token(request)
    if not token:
        return oauth_json_error(401, "invalid_request", "Missing bearer token.", {"WWW-Authenticate": 'Bearer realm="dexpy"'})
    try:
        state = web(request)
        claims = await loopwork.run(state.provider.userinfo, token)
    except InvalidToken as exc:
        return oauth_json_error(401, "invalid_token", str(exc),
                                {"WWW-Authenticate": 'Bearer realm="dexpy", error="invalid_token"'})
    except Unavailable:
        return oauth_json_error(503, "temporarily_unavailable", "The service is temporarily unavailable.")
    return JSONResponse(claims, headers={"Cache-Control": "no-store"})
