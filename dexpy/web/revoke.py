"""Token revocation (RFC 7009) at `/token/revoke`, and how the token-management endpoints are served."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from dexpy.storage import Unavailable
from dexpy.web.adapter import oauth2_request
from dexpy.web.context import oauth_json_error, web

log = logging.getLogger(__name__)


def token_management_router(path: str, endpoint: str) -> APIRouter:
    """POST `path` runs authlib's endpoint `endpoint` (revocation, introspection); other methods get 405."""
    router = APIRouter()

    @router.post(path)
    async def serve(request: Request) -> Response:
        provider = web(request).provider
        oauth_request = await oauth2_request(request, provider.url(path))
        try:
            status, body, headers = await run_in_threadpool(provider.server.create_endpoint_response, endpoint,
                                                            oauth_request)
        except Unavailable as exc:
            log.warning("%s request failed: storage unavailable: %s", endpoint, exc)
            return oauth_json_error(503, "temporarily_unavailable", "The service is temporarily unavailable.",
                                    {"Retry-After": "1"})
        return JSONResponse(dict(body), status_code=status,
                            headers={**dict(headers), "Cache-Control": "no-store", "Pragma": "no-cache"})

    @router.api_route(path, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    def wrong_method() -> Response:
        return oauth_json_error(405, "invalid_request", f"{path} takes POST only.", {"Allow": "POST"})

    return router


router = token_management_router("/token/revoke", "revocation")
