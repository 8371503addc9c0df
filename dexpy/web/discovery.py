"""Discovery and JWKS, served from bytes serialised once (they sit on every client's start-up path).

Every relying party, kubectl plugin and kube-apiserver fetches them, often on each start, so besides the routes
there is `PublishedDocuments`: a layer in front of the router that answers a plain GET of either from those bytes,
which costs a fraction of routing (FastAPI's route matching and dependency solving cost more than the answer).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dexpy.web.context import WebState, web

router = APIRouter()
JWKS_CACHE_CONTROL = "max-age=600, must-revalidate"

Document = Callable[[WebState], tuple[bytes, dict[str, str]]]
"""The current body of a published document and its headers besides the content type."""


def discovery_document(state: WebState) -> tuple[bytes, dict[str, str]]:
    return state.discovery_json, {}


def jwks_document(state: WebState) -> tuple[bytes, dict[str, str]]:
    return state.provider.keys.current.jwks_json, {"Cache-Control": JWKS_CACHE_CONTROL}


DOCUMENTS: dict[str, Document] = {"/.well-known/openid-configuration": discovery_document, "/keys": jwks_document}
"""Path under the issuer → document."""


def _response(document: Document, request: Request) -> Response:
    body, headers = document(web(request))
    return Response(body, media_type="application/json", headers=headers)


@router.get("/.well-known/openid-configuration")
async def discovery(request: Request) -> Response:
    return _response(discovery_document, request)


@router.get("/keys")
async def keys(request: Request) -> Response:
    return _response(jwks_document, request)


class PublishedDocuments:
    """Answers GET of the DOCUMENTS before routing, as the routes would. A request with an `Origin` goes to the
    routes when CORS is configured (the CORS middleware sits in front of them); `scope["route"]` is set to the
    route, so telemetry labels it as if routed."""

    def __init__(self, app: ASGIApp, *, state: WebState, prefix: str, cors: bool) -> None:
        self.app = app
        self.state = state
        self.cors = cors
        routes = {getattr(route, "path", None): route for route in router.routes}
        self.documents = {prefix + path: (document, routes[path]) for path, document in DOCUMENTS.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        published = self.documents.get(scope["path"]) if scope["type"] == "http" else None
        if published is None or scope["method"] != "GET" or (self.cors and _has_origin(scope)):
            await self.app(scope, receive, send)
            return
        document, scope["route"] = published
        body, headers = document(self.state)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"),
            *((name.lower().encode(), value.encode()) for name, value in headers.items())]})
        await send({"type": "http.response.body", "body": body})


def _has_origin(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])
