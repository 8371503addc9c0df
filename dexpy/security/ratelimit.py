"""Per-client-IP token buckets on the unauthenticated endpoints that cost work: `/auth` and everything below it
(connector pages, the password form: bcrypt or an LDAP bind), `/device/code` and `/token`.

The buckets live in this process (one set per replica, so N replicas allow N times the rate); the lockout,
which must hold across replicas, keeps its counters in the store instead. A refused request gets 429 with
`Retry-After` (seconds, rounded up) before any of its work is done.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from dexpy.config import RateLimitConfig
from dexpy.security.replies import reply

MAX_TRACKED = 100_000
"""Buckets kept at most; the least recently used go first (a full bucket is the same as none)."""


class TokenBuckets:
    """One bucket per key: `burst` tokens, refilled at `rate` per second. Not thread-safe: call it from the
    event loop only."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_tracked: int = MAX_TRACKED) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_tracked = max_tracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """key → (tokens, when counted)"""

    def take(self, key: str) -> float:
        """Take a token: 0 when one was there, else the seconds until one will be."""
        now = self.clock()
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_tracked:
            self._buckets.popitem(last=False)
        return wait


def endpoint_group(path: str, prefix: str) -> str | None:
    """Which bucket a request path draws from, or None when it is not limited."""
    if not path.startswith(prefix):
        return None
    path = path[len(prefix):]
    if path == "/auth" or path.startswith("/auth/"):
        return "auth"
    if path in ("/token", "/device/code"):
        return path[1:]
    return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, config: RateLimitConfig, prefix: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.enabled = config.enabled
        self.prefix = prefix
        self.buckets = TokenBuckets(config.requests_per_second, config.burst, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = endpoint_group(scope["path"], self.prefix) if self.enabled and scope["type"] == "http" else None
        if group is not None:
            client = (scope.get("client") or ("",))[0]
            wait = self.buckets.take(f"{group} {client}")
            if wait > 0:
                await reply(send, 429, "Too many requests from your address. Please try again in a moment.",
                            api=group != "auth", error="temporarily_unavailable",
                            headers={"retry-after": str(math.ceil(wait))})
                return
        await self.app(scope, receive, send)
