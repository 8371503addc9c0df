"""Where the protocol endpoints' blocking work runs: threads off the event loop, at most dexpy.cpuslots.SLOTS
computing at once per process, more while some wait on a directory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from dexpy.cpuslots import ProtocolThreads

T = TypeVar("T")

_pools: dict[asyncio.AbstractEventLoop, ProtocolThreads] = {}


async def run_protocol_work(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a protocol thread (with the request's context variables)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = ProtocolThreads(loop)
    return await pool.run(work, *args)


def close_pool() -> None:
    """On the loop, as the app stops: the loop's protocol threads end once they are done."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        pool.close()
