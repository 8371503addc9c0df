"""The telemetry listener (`telemetry.http`): `/metrics`, `/healthz/live`, `/healthz/ready`, `/healthz`."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dexpy.oidc.provider import Provider
from dexpy.telemetry.health import check


def telemetry_app(provider: Provider, registry: CollectorRegistry = REGISTRY) -> Starlette:
    """`registry` is what `/metrics` reports: this process's metrics, or every worker's (`workers_registry`)."""

    async def metrics(request: Request) -> Response:
        # merging the workers' files takes milliseconds: not on the loop that also serves the primary's requests
        return Response(await run_in_threadpool(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)

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
