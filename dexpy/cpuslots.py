"""CPU slots: how many protocol requests of this process compute at once, and letting go of one to wait.

Protocol work (signatures, verification, authlib) is CPU under one GIL: more than a couple of requests computing at
once only share it and all finish late, so the web layer runs it in threads under a limiter of `SLOTS`. But some
of that work waits on the network, on a directory that may be slow or hung, and a request holding a slot while it
waits would stall every request queued behind it. So a thread about to wait on an upstream widens the limiter by
one for the wait (`waiting_upstream`): the next queued request starts meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio
import anyio.from_thread

T = TypeVar("T")

SLOTS = 2
"""Requests computing at once per process. Bench, refresh grant: the default 40 threads gave p99 860 ms, 4 gave
~90 ms at the same req/s; one worker, SQLite, 32 connections: 4 threads 1.75 ms of server CPU per refresh, 2
threads 1.6 ms, 1 thread 1.53 ms but fewer req/s: two overlap a storage round trip with a signature. A limiter of
2 dispatching into many threads that wait on a semaphore measured 20% fewer refreshes and 3× the p99."""

_held = threading.local()


def in_a_slot(limiter: anyio.CapacityLimiter, work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a thread that `limiter` let run (anyio.to_thread.run_sync with it)."""
    _held.limiter = limiter
    try:
        return work(*args)
    finally:
        _held.limiter = None


@contextmanager
def waiting_upstream() -> Iterator[None]:
    """Around a network wait in a protocol thread: one more request may compute until the wait ends."""
    limiter: anyio.CapacityLimiter | None = getattr(_held, "limiter", None)
    if limiter is None:
        yield
        return
    anyio.from_thread.run_sync(_widen, limiter, 1)
    try:
        yield
    finally:
        anyio.from_thread.run_sync(_widen, limiter, -1)


def _widen(limiter: anyio.CapacityLimiter, by: int) -> None:
    limiter.total_tokens += by
