"""The hot routes, served before FastAPI's router.

Discovery, JWKS, /token and /userinfo take every client's start-up and every refresh. Their endpoints take the
raw `Request` and nothing else, so FastAPI's route matching, parameter solving and per-request exit stack are
pure cost: more than discovery's whole answer, ~100 µs of the ~800 µs of CPU a refresh takes. `DirectRoutes` calls such endpoints itself,
with `scope["route"]` set so telemetry labels them as if routed; routes whose endpoint takes anything else (the
405 answers) stay with the router. A request with an `Origin` goes through the router when CORS is configured:
the CORS middleware sits in front of the routes. An exception an endpoint raises goes to the app's handler for
it (`handlers`: the app's `exception_handlers`), as the router would send it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoutes:
    def __init__(self, app: ASGIApp, *, prefix: str, routes: Sequence[BaseRoute], cors: bool,
                 handlers: Mapping[Any, Callable[[Request, Exception], Any]]) -> None:
        self.app = app
        self.cors = cors
        self.handlers = handlers
        self.table: dict[tuple[str, str], APIRoute] = {}
        for route in routes:
            if isinstance(route, APIRoute) and _takes_the_request_alone(route):
                self.table.update({(prefix + route.path, method): route for method in route.methods or ()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.table.get((scope["path"], scope["method"])) if scope["type"] == "http" else None
        if route is None or (self.cors and any(name == b"origin" for name, _ in scope["headers"])):
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = next((self.handlers[t] for t in type(exc).__mro__ if t in self.handlers), None)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def _takes_the_request_alone(route: APIRoute) -> bool:
    parameters = list(inspect.signature(route.endpoint).parameters.values())
    return [p.annotation for p in parameters] in (["Request"], [Request])
