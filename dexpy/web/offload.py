"""Where the protocol endpoints' work runs, chosen by the storage:

- local storage (SQLite, memory): on the event loop (dexpy.loopwork), its few waits parked off it;
- storage whose reads may need an API round trip (`stale_copies`: Kubernetes): in protocol threads
  (dexpy.cpuslots), at most SLOTS computing at once per process, more while some wait on a directory.

On the loop, a grant that waits for the Kubernetes API hands the GIL back and forth with the thread doing the
round trip at each of urllib3's socket calls, while the loop is busy with other grants: measured with the fake
API server, 1,100-1,250 refreshes/s at ~1,400 µs of CPU against 1,360-1,390 at ~1,230 in protocol threads,
whose loop stays nearly idle. On local storage the loop wins (~2,650 against ~2,450 req/s)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from dexpy import loopwork
from dexpy.cpuslots import ProtocolThreads
from dexpy.storage import Storage

T = TypeVar("T")

_pools: dict[asyncio.AbstractEventLoop, ProtocolThreads] = {}


def protocol_runner(storage: Storage) -> Callable[..., Awaitable[T]]:
    """How to run protocol work (`await runner(work, *args)`) against `storage`."""
    return run_in_protocol_thread if storage.stale_copies else loopwork.run


async def run_in_protocol_thread(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a protocol thread (with the request's context variables)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = ProtocolThreads(loop)
    return await pool.run(work, *args)


def close() -> None:
    """On the loop, as the app stops: the loop's protocol threads and wait threads end once they are done."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        pool.close()
    loopwork.close()
