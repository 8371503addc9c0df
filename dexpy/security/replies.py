"""Short answers the security middlewares send before a request reaches the app: an RFC 6749 error body
on the OAuth endpoints, plain text on the browser pages. The security headers middleware sits outside
these, so they carry the headers too."""

from __future__ import annotations

import json

from starlette.types import Send

_API_PATHS = ("/token", "/device/code", "/device/token", "/userinfo", "/keys", "/.well-known/")


def is_api_path(path: str, prefix: str) -> bool:
    return path.startswith(prefix) and path[len(prefix):].startswith(_API_PATHS)


async def reply(send: Send, status: int, message: str, *, api: bool, error: str = "invalid_request",
                headers: dict[str, str] | None = None) -> None:
    if api:
        body = json.dumps({"error": error, "error_description": message}).encode()
        content_type = "application/json"
    else:
        body, content_type = message.encode(), "text/plain; charset=utf-8"
    all_headers = {"content-type": content_type, "content-length": str(len(body)), "cache-control": "no-store",
                   **(headers or {})}
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode(), v.encode("latin-1")) for k, v in all_headers.items()]})
    await send({"type": "http.response.body", "body": body})
