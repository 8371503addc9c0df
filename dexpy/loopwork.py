"""Protocol work on the event loop: each call of `run` executes synchronous code (authlib's grants, userinfo,
the steps of the login pages) in a greenlet on the loop's own thread, and whatever in it waits parks the greenlet
while the loop serves other requests: a directory round trip, a SQLite write lock another process may hold or a
bcrypt hash through `off_loop`, which runs the call in a thread; a Kubernetes API round trip through `awaiting`,
which runs a coroutine on the loop itself.

Why not a thread per call, as before: the work is mostly Python, under one GIL. In threads it competed with the
loop's own Python for the GIL on every request, and the hand-offs cost ~75 µs of CPU per refresh grant under
load (~10% of it); on the loop it never competes. RSA signing (~210 µs a token) runs on the loop as well: it is
CPU the request needs anyway, and there is one loop per core (`dexpy serve --workers`).

Two rules for code that runs as protocol work:
- a call that can wait goes through `off_loop` (or is decorated with `waits`), or `awaiting` for a coroutine;
- no lock is held across `off_loop` or `awaiting`: another greenlet of the same thread taking that lock would
  block the loop for good. Run the whole locked section off the loop instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import greenlet

T = TypeVar("T")
P = ParamSpec("P")

WAIT_THREADS = 32
"""Calls waiting off the loop at once per process; more queue for a thread. Each waits on the network or a lock,
with its own timeout (the LDAP pools, the Kubernetes client), so a hung upstream holds them only that long."""

WAIT_THREAD_NAME = "dexpy-wait"
"""The name prefix of the threads calls wait in."""

IDLE_RUNNERS = 16
"""Greenlets kept per loop for the next calls. A greenlet per call would cost ~8 µs (~45 µs under load): Python
gives each new greenlet its own frame stack, mapped and unmapped again."""


@dataclass(slots=True)
class _Wait:
    call: Callable[[], Any]
    context: contextvars.Context


@dataclass(slots=True)
class _Await:
    coroutine: Coroutine[Any, Any, Any]
    context: contextvars.Context


@dataclass(slots=True)
class _Done:
    value: Any
    error: BaseException | None


class _Runner(greenlet.greenlet):
    """A greenlet on a loop's thread that runs one call of protocol work after another; `off_loop` parks these."""

    def __init__(self) -> None:
        super().__init__(self._serve)

    def _serve(self, work: Callable[..., Any], args: tuple[object, ...]) -> None:
        while True:
            try:
                done = _Done(work(*args), None)
            except greenlet.GreenletExit:
                raise
            except BaseException as exc:  # handed to the awaiting request, raised there
                done = _Done(None, exc)
            del work, args
            work, args = self.parent.switch(done)


class _LoopWork:
    """One loop's idle runners and the threads its calls wait in."""

    def __init__(self) -> None:
        self.idle: list[_Runner] = []
        self.waits = ThreadPoolExecutor(WAIT_THREADS, thread_name_prefix=WAIT_THREAD_NAME)
        self.closers: list[Callable[[], Awaitable[object]]] = []

    def release(self, runner: _Runner) -> None:
        if len(self.idle) < IDLE_RUNNERS:
            self.idle.append(runner)
        else:
            runner.throw()

    async def close(self) -> None:
        for runner in self.idle:
            runner.throw()
        self.waits.shutdown(wait=False)
        for closer in self.closers:
            await closer()


_loops: dict[asyncio.AbstractEventLoop, _LoopWork] = {}


def off_loop(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`call(*args, **kwargs)`, in a thread when running as protocol work (with the work's context variables),
    the loop serving other requests meanwhile; anywhere else (threads, the CLI) a plain call."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Runner):
        return call(*args, **kwargs)
    return current.parent.switch(_Wait(functools.partial(call, *args, **kwargs), contextvars.copy_context()))


def as_protocol_work() -> bool:
    """Whether the caller runs as protocol work (in a greenlet on the loop), where `awaiting` may be used."""
    return isinstance(greenlet.getcurrent(), _Runner)


def awaiting(coroutine: Coroutine[Any, Any, T]) -> T:
    """As protocol work, the result of `coroutine` run on the loop as a task, the greenlet parked meanwhile: a
    wait with no thread at all (the Kubernetes API client). Only where `as_protocol_work()` holds."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Runner):
        coroutine.close()
        raise RuntimeError("awaiting() outside protocol work")
    return current.parent.switch(_Await(coroutine, contextvars.copy_context()))


def waits(method: Callable[P, T]) -> Callable[P, T]:
    """Mark a function that may wait (network, disk lock): as protocol work it runs through `off_loop`."""

    @functools.wraps(method)
    def waiting(*args: P.args, **kwargs: P.kwargs) -> T:
        return off_loop(method, *args, **kwargs)

    return waiting


async def run(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` on this loop's thread, with the caller's context variables, parked while it waits (`off_loop`).
    A cancelled caller never cuts the work short: it runs to its end (its writes are made), then the caller sees
    the cancellation."""
    loop = asyncio.get_running_loop()
    state = _state(loop)
    runner = state.idle.pop() if state.idle else _Runner()
    runner.gr_context = contextvars.copy_context()
    call = _Call(loop, state, runner)
    call.step(runner.switch(work, args))
    cancelled = await settled(call.finished)
    done: _Done = call.finished.result()
    if cancelled:
        raise asyncio.CancelledError
    if done.error is not None:
        raise done.error
    return done.value


class _Call:
    """One call of protocol work, resumed from loop callbacks as its waits end: no task wake-up per wait."""

    __slots__ = ("_loop", "_state", "_runner", "finished")

    def __init__(self, loop: asyncio.AbstractEventLoop, state: _LoopWork, runner: _Runner) -> None:
        self._loop = loop
        self._state = state
        self._runner = runner
        self.finished: asyncio.Future[_Done] = loop.create_future()

    def step(self, step: _Wait | _Await | _Done) -> None:
        """Hand the runner's next wait to a thread or the loop, or, once it is done, finish the call."""
        while not isinstance(step, _Done):
            if isinstance(step, _Await):
                task = self._loop.create_task(step.coroutine, context=step.context)
                task.add_done_callback(self._resume)
                return
            try:
                answer = self._state.waits.submit(step.context.run, step.call)
            except RuntimeError as exc:  # the wait threads are shut down: the app is stopping
                step = self._runner.throw(exc)
                continue
            answer.add_done_callback(self._answered)
            return
        self._state.release(self._runner)
        self.finished.set_result(step)

    def _answered(self, answer: Future[Any]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._resume, answer)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    def _resume(self, answer: Future[Any] | asyncio.Future[Any]) -> None:
        error = answer.exception() if not answer.cancelled() else asyncio.CancelledError()
        self.step(self._runner.throw(error) if error is not None else self._runner.switch(answer.result()))


async def settled(future: asyncio.Future[Any]) -> bool:
    """Wait until `future` is done, even through cancellations (work that has started is never cut short);
    whether the caller was cancelled meanwhile."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait((future,))
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


def _state(loop: asyncio.AbstractEventLoop) -> _LoopWork:
    return _loops.get(loop) or _loops.setdefault(loop, _LoopWork())


def at_close(closer: Callable[[], Awaitable[object]]) -> None:
    """On a loop: have `close` await `closer()` (a client session bound to this loop)."""
    _state(asyncio.get_running_loop()).closers.append(closer)


async def close() -> None:
    """On the loop, as the app stops: its idle greenlets end, its wait threads once their calls return, and what
    was registered with `at_close` is closed."""
    state = _loops.pop(asyncio.get_running_loop(), None)
    if state is not None:
        await state.close()
