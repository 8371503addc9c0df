"""The client's IP address: the TCP peer, or — only when the peer is a trusted proxy — the address the
configured header (`web.clientRemoteIP.header`, e.g. X-Forwarded-For) names, walking its hops right to left
past trusted proxies, as Dex does. The middleware puts it in the ASGI scope's `client`, so everything after it
(logs, audit lines, rate limits, lockout) sees the same address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from dexpy.config import ClientRemoteIP
from dexpy.logs import request_context

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def resolve(peer: str, hops: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client address for a request from `peer` carrying the header's `hops` (left to right)."""
    current = _address(peer)
    if current is None:
        return peer or UNKNOWN
    for hop in reversed(hops):
        if not any(current in network for network in trusted):
            break
        previous = _address(hop)
        if previous is None:  # garbage left of the last trusted proxy: trust stops there
            break
        current = previous
    return str(current)


class ClientIPMiddleware:
    def __init__(self, app: ASGIApp, config: ClientRemoteIP) -> None:
        self.app = app
        self.header = config.header.lower().encode("latin-1")
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer, port = scope.get("client") or ("", 0)
            if self.header and self.trusted:
                hops = [hop for name, value in scope.get("headers", []) if name == self.header
                        for hop in value.decode("latin-1").split(",")]
                scope = {**scope, "client": (resolve(peer, hops, self.trusted), port)}
            elif not peer:  # no proxy to trust: the TCP peer as the server reported it
                scope = {**scope, "client": (UNKNOWN, port)}
        await self.app(scope, receive, send)


def client_ip() -> str:
    """The current request's client address (set by the middleware), or `unknown` outside a request."""
    ctx = request_context.get()
    return ctx.remote_addr if ctx is not None and ctx.remote_addr else UNKNOWN
