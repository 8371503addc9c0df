"""Token revocation (RFC 7009) at `/token/revoke`; also how the token-management endpoints answer."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from dexpy.storage import Unavailable
from dexpy.web.adapter import oauth2_request
from dexpy.web.context import oauth_json_error, web

router = APIRouter()
log = logging.getLogger(__name__)


async def endpoint_response(request: Request, name: str, path: str) -> Response:
    """Run authlib's endpoint `name` (revocation, introspection) on a form POST to `path`."""
    provider = web(request).provider
    oauth_request = await oauth2_request(request, provider.url(path))
    try:
        status, body, headers = await run_in_threadpool(provider.server.create_endpoint_response, name, oauth_request)
    except Unavailable as exc:
        log.warning("%s request failed: storage unavailable: %s", name, exc)
        return oauth_json_error(503, "temporarily_unavailable", "The service is temporarily unavailable.",
                                {"Retry-After": "1"})
    return JSONResponse(dict(body), status_code=status, headers={**dict(headers), "Cache-Control": "no-store",
                                                                  "Pragma": "no-cache"})


def post_only(path: str) -> Response:
    return oauth_json_error(405, "invalid_request", f"{path} takes POST only.", {"Allow": "POST"})


@router.post("/token/revoke")
async def revoke(request: Request) -> Response:
    return await endpoint_response(request, "revocation", "/token/revoke")


@router.api_route("/token/revoke", methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def revoke_wrong_method() -> Response:
    return post_only("/token/revoke")
