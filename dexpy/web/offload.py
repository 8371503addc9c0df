"""Where the protocol endpoints' blocking work runs: threads off the event loop, at most dexpy.cpuslots.SLOTS
computing at once per process, more while some wait on a directory."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

from dexpy.cpuslots import SLOTS, in_a_slot

T = TypeVar("T")

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(SLOTS)
    return _limiters[loop]


async def run_protocol_work(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a protocol thread (with the request's context variables)."""
    limiter = _limiter()
    return await anyio.to_thread.run_sync(in_a_slot, limiter, work, *args, limiter=limiter)
