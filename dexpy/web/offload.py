"""Where the protocol endpoints' blocking work runs: threads off the event loop, at most dexpy.cpuslots.SLOTS
computing at once per process, more while some wait on a directory."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

from dexpy.cpuslots import ProtocolThreads

T = TypeVar("T")

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProtocolThreads] = weakref.WeakKeyDictionary()


async def run_protocol_work(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a protocol thread (with the request's context variables)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = ProtocolThreads(loop)
    return await pool.run(work, *args)
