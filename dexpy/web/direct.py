"""The routes served before FastAPI's router.

Every endpoint of dexpy's own routes takes the raw `Request` (and, for the login pages, the connector id from the
path) and answers with a `Response`, so FastAPI's route matching, parameter solving and per-request exit stack
are pure cost: more than discovery's whole answer, ~100 µs of the ~800 µs of CPU a refresh took, and tens of µs
of each of a login's six page requests. `DirectRoutes` calls such endpoints itself, with `scope["route"]` and
the path parameters set as if routed; routes whose endpoint takes anything else (the 405 answers) stay with the
router, as do the mounted static files. A request with an `Origin` goes through the router when CORS is
configured: the CORS middleware sits in front of the routes. An exception an endpoint raises goes to the app's
handler for it (`handlers`: the app's `exception_handlers`), as the router would send it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True)
class _Templated:
    """A route with parameters in its path, matched by the pattern of its full path."""

    pattern: re.Pattern[str]
    route: APIRoute


class DirectRoutes:
    def __init__(self, app: ASGIApp, *, prefix: str, routes: Sequence[BaseRoute], cors: bool,
                 handlers: Mapping[Any, Callable[[Request, Exception], Any]]) -> None:
        self.app = app
        self.cors = cors
        self.handlers = handlers
        self.table: dict[tuple[str, str], APIRoute] = {}
        self.templated: list[_Templated] = []
        for route in routes:
            if not isinstance(route, APIRoute) or not _takes_the_request_and_its_path(route):
                continue
            if route.param_convertors:
                self.templated.append(_Templated(compile_path(prefix + route.path)[0], route))
            else:
                self.table.update({(prefix + route.path, method): route for method in route.methods or ()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, path_params = self._match(scope) if scope["type"] == "http" else (None, {})
        if route is None or (self.cors and any(name == b"origin" for name, _ in scope["headers"])):
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["path_params"] = path_params
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request=request, **path_params)
        except Exception as exc:
            handler = next((self.handlers[t] for t in type(exc).__mro__ if t in self.handlers), None)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[APIRoute | None, dict[str, str]]:
        route = self.table.get((scope["path"], scope["method"]))
        if route is not None:
            return route, {}
        for templated in self.templated:
            match = templated.pattern.match(scope["path"])
            if match is not None and scope["method"] in (templated.route.methods or ()):
                return templated.route, match.groupdict()
        return None, {}


def _takes_the_request_and_its_path(route: APIRoute) -> bool:
    """Whether the endpoint takes `request` and, as strings, the parameters of its path: nothing to solve."""
    parameters = {p.name: p.annotation for p in inspect.signature(route.endpoint).parameters.values()}
    if parameters.pop("request", None) not in ("Request", Request):
        return False
    if not all(isinstance(convertor, StringConvertor) for convertor in route.param_convertors.values()):
        return False
    return {name: "str" if annotation is str else annotation for name, annotation in parameters.items()} == \
        dict.fromkeys(route.param_convertors, "str")
