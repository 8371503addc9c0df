"""Token introspection (RFC 7662) at Dex's `/token/introspect`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from dexpy.web.revoke import endpoint_response, post_only

router = APIRouter()


@router.post("/token/introspect")
async def introspect(request: Request) -> Response:
    return await endpoint_response(request, "introspection", "/token/introspect")


@router.api_route("/token/introspect", methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def introspect_wrong_method() -> Response:
    return post_only("/token/introspect")
