"""Builds the FastAPI application: routers under the issuer's path, pages, static assets, security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response

from dexpy import loopwork
from dexpy.runtime import Runtime
from dexpy.security.clientip import ClientIPMiddleware
from dexpy.security.limits import RequestLimitsMiddleware
from dexpy.security.ratelimit import RateLimitMiddleware
from dexpy.security.replies import is_api_path
from dexpy.storage import StorageError
from dexpy.telemetry.http import TelemetryMiddleware
from dexpy.web import authorize, device, discovery, health, introspect, logout, revoke, token, userinfo
from dexpy.web.context import WebState, error_page, oauth_json_error
from dexpy.web.direct import DirectRoutes
from dexpy.web.render import LayeredStaticFiles, Renderer
from dexpy.web.security import SecurityHeaders

log = logging.getLogger(__name__)

ROUTERS = (discovery, authorize, token, revoke, introspect, userinfo, health, logout, device)
"""The modules whose `router` serves dexpy's endpoints under the issuer's path."""

CLIENT_CLOSED_REQUEST = 499


def create_app(runtime: Runtime, *, background: bool = True) -> FastAPI:
    """The web app for an opened runtime; `background` runs key rotation checks and GC while it serves."""
    config = runtime.config
    provider = runtime.provider
    prefix = provider.issuer_path

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:
            runtime.start_background()
        try:
            yield
        finally:
            await loopwork.close()
            runtime.close()

    # FastAPI's own OpenTelemetry hooks are off: dexpy reports through Prometheus, logs and audit lines, and the
    # hooks looked the global OpenTelemetry providers up (three environment reads) on every request.
    app = FastAPI(title="dexpy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    renderer = Renderer(config.frontend, prefix)
    app.state.web = WebState(
        runtime=runtime,
        renderer=renderer,
        cookie_path=prefix or "/",
        secure_cookies=provider.issuer.startswith("https:"),
        discovery_json=json.dumps(provider.discovery(), indent=2).encode(),
    )
    for module in ROUTERS:
        app.include_router(module.router, prefix=prefix)
    roots = renderer.roots
    app.mount(f"{prefix}/static", LayeredStaticFiles(roots.static), name="static")
    app.mount(f"{prefix}/theme", LayeredStaticFiles(roots.theme), name="theme")

    @app.get(f"{prefix}/robots.txt", include_in_schema=False)
    def robots() -> FileResponse:
        return FileResponse(roots.robots, media_type="text/plain")

    @app.exception_handler(StorageError)
    async def storage_down(request: Request, exc: StorageError) -> Response:
        log.warning("%s %s failed: storage: %s", request.method, request.url.path, exc)
        if is_api_path(request.url.path, prefix):
            return oauth_json_error(503, "temporarily_unavailable", "The service is temporarily unavailable.",
                                    {"Retry-After": "1"})
        return error_page(app.state.web, 503, "The service is temporarily unavailable. Please try again in a moment.")

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client closed the connection while its request body was on the way: nothing was read or written,
        # and no one is left to answer (uvicorn drops what is sent). 499 is nginx's code for it in the metrics.
        log.info("%s %s: the client disconnected before its request body arrived", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    if config.web.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.web.allowed_origins,
                           allow_headers=config.web.allowed_headers, allow_methods=["GET", "POST"])
    # Outermost last: client IP → telemetry → security headers → size limits → rate limits → direct routes
    # → (CORS) → routes.
    app.add_middleware(DirectRoutes, prefix=prefix, cors=bool(config.web.allowed_origins),
                       routes=[route for module in ROUTERS for route in module.router.routes],
                       handlers=app.exception_handlers)
    app.add_middleware(RateLimitMiddleware, config=config.security.rate_limit, prefix=prefix)
    app.add_middleware(RequestLimitsMiddleware, config=config.security.limits, prefix=prefix)
    app.add_middleware(SecurityHeaders, extra=config.web.headers, https=provider.issuer.startswith("https:"))
    app.add_middleware(TelemetryMiddleware, prefix=prefix)
    app.add_middleware(ClientIPMiddleware, config=config.web.client_remote_ip)
    return app
