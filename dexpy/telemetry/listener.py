"""The telemetry listener (`telemetry.http`): `/metrics`, `/healthz/live`, `/healthz/ready`, `/healthz`."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dexpy.oidc.provider import Provider
from dexpy.telemetry.health import check


def telemetry_app(provider: Provider) -> Starlette:
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def live(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def ready(request: Request) -> Response:
        report = await run_in_threadpool(check, provider)
        return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)

    return Starlette(routes=[
        Route("/metrics", metrics),
        Route("/healthz/live", live),
        Route("/healthz/ready", ready),
        Route("/healthz", ready),
    ])
