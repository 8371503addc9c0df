"""Token revocation (RFC 7009) at `/token/revoke`, and how the token-management endpoints are served."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from dexpy.web.adapter import oauth2_request
from dexpy.web.context import oauth_json_error, web
from dexpy.web.token import oauth_response


def token_management_router(path: str, endpoint: str) -> APIRouter:
    """POST `path` runs authlib's endpoint `endpoint` (revocation, introspection); other methods get 405."""
    router = APIRouter()

    @router.post(path)
    async def serve(request: Request) -> Response:
        state = web(request)
        oauth_request = await oauth2_request(request, state.provider.url(path))
        return await oauth_response(partial(state.provider.server.create_endpoint_response, endpoint),
                                    oauth_request)

    @router.api_route(path, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    def wrong_method() -> Response:
        return oauth_json_error(405, "invalid_request", f"{path} takes POST only.", {"Allow": "POST"})

    return router


router = token_management_router("/token/revoke", "revocation")
