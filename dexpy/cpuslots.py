"""CPU slots: how many protocol requests of this process compute at once, and letting go of one to wait.

Protocol work (signatures, verification, authlib) is CPU, mostly under one GIL: more than a few requests
computing at once only share it and all finish late, so the web layer runs it in threads of `ProtocolThreads`,
at most `SLOTS` at once per process. But some of that work waits on the network, on a directory that may be slow
or hung, and a request holding a slot while it waits would stall every request queued behind it. So a thread
about to wait on an upstream widens its pool by one for the wait (`waiting_upstream`): the next queued request
starts meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dexpy.loopwork import settled

T = TypeVar("T")

SLOTS = 3
"""Requests computing at once per process. Bench, refresh grant (two workers, 64 connections): Starlette's 40
threads gave a p99 of 860 ms, 4 gave ~90 ms at the same req/s. RSA signing lets go of the GIL, so a third slot
signs while the other two run Python: 2 slots 2,320–2,390 req/s, 3 2,440–2,460, 4 2,430–2,490 (6 gave fewer
and a worse p99 under anyio's pool, which this replaced)."""

IDLE_SECONDS = 10.0
"""How long a thread beyond the first `SLOTS` (started while others waited on a directory) stays for more work."""

_held = threading.local()


@dataclass(eq=False)
class _Job(Generic[T]):
    done: asyncio.Future[T]
    context: contextvars.Context
    work: Callable[..., T]
    args: tuple[object, ...]
    started: bool = False
    ended: bool = False
    finished: asyncio.Future[None] | None = None
    """Set when the awaiting request was cancelled while its thread ran: the request waits on it instead."""


class ProtocolThreads:
    """Threads running protocol work for one event loop, at most `slots` at once; the rest wait on the loop, first
    come first served. One future and one wake-up of the loop per call: anyio.to_thread with a CapacityLimiter,
    which this replaced, cost ~30 µs more CPU per refresh grant."""

    def __init__(self, loop: asyncio.AbstractEventLoop, slots: int = SLOTS) -> None:
        self._loop = loop
        self._slots = slots
        self._computing = 0
        self._waiting: deque[_Job[Any]] = deque()
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._idle = 0
        """Threads waiting for a job, less the jobs handed to them and not yet taken; guarded by `_lock`."""
        self._threads = 0
        self._lock = threading.Lock()

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a thread, with the caller's context variables. A cancelled caller stops a job that
        has not started; one that has runs to its end first (its writes are never cut short)."""
        job: _Job[T] = _Job(self._loop.create_future(), contextvars.copy_context(), work, args)
        if self._computing < self._slots:
            self._start(job)
        else:
            self._waiting.append(job)
        try:
            return await job.done
        except asyncio.CancelledError:
            if not job.started:
                self._waiting.remove(job)
                raise
            if job.ended:
                raise
            job.finished = self._loop.create_future()
            await settled(job.finished)
            raise

    def close(self) -> None:
        """Let every thread end once it is done with its job (its loop is closing)."""
        with self._lock:
            threads = self._threads
        for _ in range(threads):
            self._jobs.put(None)

    def widen(self, by: int) -> None:
        """From any thread: let `by` more (or, negative, fewer) jobs compute at once."""
        self._loop.call_soon_threadsafe(self._widened, by)

    def _widened(self, by: int) -> None:
        self._slots += by
        self._start_waiting()

    def _start_waiting(self) -> None:
        while self._waiting and self._computing < self._slots:
            self._start(self._waiting.popleft())

    def _start(self, job: _Job[Any]) -> None:
        self._computing += 1
        job.started = True
        with self._lock:
            spawn = self._idle == 0
            if spawn:
                self._threads += 1
            else:
                self._idle -= 1
        if spawn:
            threading.Thread(target=self._serve, name="dexpy-protocol", daemon=True).start()
        self._jobs.put(job)

    def _serve(self) -> None:
        _held.threads = self
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0 and self._threads > self._slots:
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            if job is None:
                return
            try:
                result, error = job.context.run(job.work, *job.args), None
            except BaseException as exc:  # handed to the awaiting request, raised there
                result, error = None, exc
            with self._lock:
                self._idle += 1
            try:
                self._loop.call_soon_threadsafe(self._finish, job, result, error)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                return
            del job, result, error

    def _finish(self, job: _Job[Any], result: object, error: BaseException | None) -> None:
        job.ended = True
        self._computing -= 1
        self._start_waiting()
        if not job.done.done():
            if error is None:
                job.done.set_result(result)
            else:
                job.done.set_exception(error)
        if job.finished is not None and not job.finished.done():
            job.finished.set_result(None)


@contextmanager
def waiting_upstream() -> Iterator[None]:
    """Around a network wait in a protocol thread: one more request may compute until the wait ends."""
    threads: ProtocolThreads | None = getattr(_held, "threads", None)
    if threads is None:
        yield
        return
    threads.widen(1)
    try:
        yield
    finally:
        threads.widen(-1)
