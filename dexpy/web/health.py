"""`/healthz` on the main listener: a storage round trip (never a write, never a cache), as text."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse

from dexpy.storage import StorageError
from dexpy.web.context import web

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> PlainTextResponse:
    storage = web(request).runtime.storage
    try:
        await run_in_threadpool(storage.ping)
    except StorageError:
        return PlainTextResponse("Health check failed: storage is unavailable.", status_code=503)
    return PlainTextResponse("Health check passed")
