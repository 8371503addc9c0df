"""Where the protocol endpoints' blocking work runs: a few threads per process, off the event loop.

Token, userinfo and introspection work is mostly CPU (signatures, verification) under one GIL, with short storage
round trips between: more threads only share the GIL, so every queued request finishes late, and each storage
call that releases the GIL waits to get it back.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")

PROTOCOL_THREADS = 2
"""Protocol requests run at once per process (bench, refresh grant: the default 40 threads gave p99 860 ms, 4
gave ~90 ms at the same req/s. One worker, SQLite, 32 connections: 4 threads 1.75 ms of server CPU per refresh,
2 threads 1.6 ms, 1 thread 1.53 ms but fewer req/s: two overlap a storage round trip with a signature."""
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(PROTOCOL_THREADS)
    return _limiters[loop]


async def run_protocol_work(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in one of this process's protocol threads (with the request's context variables)."""
    return await anyio.to_thread.run_sync(work, *args, limiter=_limiter())
