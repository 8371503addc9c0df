"""The web app's outermost middleware: a request id for every request (logs and `X-Request-Id`), Dex's HTTP
metrics by route pattern, and the exchange handed to an observer that derives audit lines and domain metrics.

Only the small form bodies and JSON answers the observer reads are kept (see `Exchange.wants_body`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dexpy.logs import RequestContext, request_context
from dexpy.telemetry import HTTP_DURATION, HTTP_REQUESTS, HTTP_RESPONSE_SIZE

log = logging.getLogger(__name__)
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_KEPT_BODY = 64 * 1024
OBSERVED_HANDLERS = frozenset({"/token", "/auth/{connector}/login", "/callback"})
"""The routes whose request form and answer the observer reads; nothing else is kept in memory."""


@dataclass
class Exchange:
    """One finished request as the observer sees it."""

    handler: str
    method: str
    status: int
    path_params: dict[str, str]
    query: bytes
    headers: dict[str, str]
    request_body: bytes = b""
    response_body: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)


Observer = Callable[[Exchange], None]


def route_pattern(scope: Scope, prefix: str) -> str:
    """The matched route's path pattern without the issuer path, parameters named as Dex names them."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "other"
    if path.startswith(prefix):
        path = path[len(prefix):] or "/"
    return path.replace("{connector_id}", "{connector}")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(text):
                return text
    return str(uuid.uuid4())


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str, observer: Observer) -> None:
        self.app = app
        self.prefix = prefix
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = RequestContext(request_id=_request_id(scope), remote_addr=(scope.get("client") or ("",))[0])
        token = request_context.set(ctx)
        start = time.perf_counter()
        request_body = bytearray()
        response: dict[str, Any] = {"status": 500, "size": 0, "body": bytearray(), "headers": {}}
        keep = scope["path"].startswith(self.prefix) and scope["path"].endswith(("/token", "/login", "/callback"))

        async def receiving() -> Message:
            message = await receive()
            if keep and message["type"] == "http.request" and len(request_body) < _MAX_KEPT_BODY:
                request_body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = {k.decode("latin-1").lower(): v.decode("latin-1")
                                       for k, v in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), (b"x-request-id", ctx.request_id.encode())]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                response["size"] += len(body)
                if keep and len(response["body"]) < _MAX_KEPT_BODY:
                    response["body"].extend(body)
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            handler = route_pattern(scope, self.prefix)
            labels = {"code": str(response["status"]), "method": scope["method"], "handler": handler}
            HTTP_REQUESTS.labels(**labels).inc()
            HTTP_DURATION.labels(**labels).observe(time.perf_counter() - start)
            HTTP_RESPONSE_SIZE.labels(**labels).observe(response["size"])
            if handler in OBSERVED_HANDLERS:
                self._observe(Exchange(
                    handler=handler, method=scope["method"], status=response["status"],
                    path_params={k: str(v) for k, v in scope.get("path_params", {}).items()},
                    query=scope.get("query_string", b""),
                    headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
                    request_body=bytes(request_body), response_body=bytes(response["body"]),
                    response_headers=response["headers"]))
            request_context.reset(token)

    def _observe(self, exchange: Exchange) -> None:
        try:
            self.observer(exchange)
        except Exception:  # the answer is sent already; a telemetry bug must not turn it into an error
            log.exception("could not record the %s %s exchange", exchange.method, exchange.handler)
