"""The web app's outermost middleware: a request id for every request (logs and `X-Request-Id`) and Dex's HTTP
metrics by route pattern. Domain events (logins, tokens, refusals) are reported by the core, not here."""

from __future__ import annotations

import functools
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dexpy.logs import RequestContext, RequestIds, request_context
from dexpy.telemetry import HTTP_DURATION, HTTP_REQUESTS, HTTP_RESPONSE_SIZE

def route_pattern(scope: Scope, prefix: str) -> str:
    """The matched route's path pattern without the issuer path, parameters named as Dex names them."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "other"
    if path.startswith(prefix):
        path = path[len(prefix):] or "/"
    return path.replace("{connector_id}", "{connector}")


@functools.cache
def _http_metrics(code: str, method: str, handler: str) -> tuple[Counter, Histogram, Histogram]:
    """The request counter, duration and size histograms of one label set: looked up once, as `labels()` costs
    more than the observation."""
    labels = (code, method, handler)
    return HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels), HTTP_RESPONSE_SIZE.labels(*labels)


def request_id(scope: Scope, ids: RequestIds) -> str:
    """The caller's `X-Request-Id` when it is a sane one, else a new id."""
    given = next((v for n, v in scope.get("headers", []) if n == b"x-request-id"), b"")
    return ids.given_or_new(given.decode("latin-1"))


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = RequestContext(request_id=request_id(scope, self.request_ids),
                             remote_addr=(scope.get("client") or ("",))[0])
        token = request_context.set(ctx)
        start = time.perf_counter()
        status, size = 500, 0

        async def sending(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", ctx.request_id.encode())]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            requests, duration, response_size = _http_metrics(str(status), scope["method"],
                                                              route_pattern(scope, self.prefix))
            requests.inc()
            duration.observe(time.perf_counter() - start)
            response_size.observe(size)
            request_context.reset(token)
