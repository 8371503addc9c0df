"""Request size limits (`security.limits`), checked before the app reads anything: URL length and query
parameter count (414), header count (431), body size by Content-Length or as it streams in, and the number of
form fields (413). An over-long body is cut off where it crosses the limit; the app never sees the rest.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dexpy.config import RequestLimitsConfig
from dexpy.security.replies import is_api_path, reply


class _TooLarge(Exception):
    pass


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_urlencoded(scope: Scope) -> bool:
    return any(name == b"content-type" and value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"
               for name, value in scope.get("headers", []))


def _param_count(query: bytes) -> int:
    return sum(1 for part in query.split(b"&") if part)


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, config: RequestLimitsConfig, prefix: str) -> None:
        self.app = app
        self.config = config
        self.prefix = prefix

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        limits = self.config
        query: bytes = scope.get("query_string", b"")
        if len(scope.get("raw_path") or scope["path"].encode()) + len(query) > limits.max_url_bytes:
            return 414, "The request URL is too long."
        if _param_count(query) > limits.max_params:
            return 414, "The request has too many parameters."
        if len(scope.get("headers", [])) > limits.max_headers:
            return 431, "The request has too many header fields."
        declared = _declared_length(scope)
        if declared is not None and declared > limits.max_body_bytes:
            return 413, "The request body is too large."
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = is_api_path(scope["path"], self.prefix)
        refusal = self._refusal(scope)
        if refusal is not None:
            await reply(send, *refusal, api=api)
            return
        limits = self.config
        budget = {"bytes": limits.max_body_bytes, "params": limits.max_params - _param_count(
            scope.get("query_string", b"")) - 1}
        count_params = _is_urlencoded(scope)
        started = False

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                budget["bytes"] -= len(body)
                if count_params:
                    budget["params"] -= body.count(b"&")
                if budget["bytes"] < 0 or budget["params"] < 0:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await reply(send, 413, "The request body is too large or has too many fields.", api=api)
