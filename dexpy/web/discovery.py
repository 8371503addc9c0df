"""Discovery and JWKS, served from bytes serialised once (they sit on every client's start-up path; app.py
serves them through `dexpy.web.direct`, before routing)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from dexpy.web.context import web

router = APIRouter()


@router.get("/.well-known/openid-configuration")
async def discovery(request: Request) -> Response:
    return Response(web(request).discovery_json, media_type="application/json")


@router.get("/keys")
async def keys(request: Request) -> Response:
    snapshot = web(request).provider.keys.current
    return Response(snapshot.jwks_json, media_type="application/json",
                    headers={"Cache-Control": "max-age=600, must-revalidate"})
