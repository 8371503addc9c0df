"""The protocol threads (dexpy.cpuslots): at most SLOTS requests computing at once per event loop, first come
first served, one more while a thread waits on a directory, and a cancelled request never cut short mid-work."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from dexpy import cpuslots
from dexpy.cpuslots import ProtocolThreads, waiting_upstream
from tests.fixtures.waiting import until

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class Gate:
    """Jobs that block until released, recording the order they started in and how many ran at once."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def job(self, n: int) -> int:
        with self._lock:
            self.started.append(n)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            assert self.release.wait(5)
            return n * 10
        finally:
            with self._lock:
                self.running -= 1


def test_at_most_slots_compute_at_once_and_the_rest_start_in_arrival_order() -> None:
    async def main() -> None:
        pool, gate = ProtocolThreads(asyncio.get_running_loop(), slots=2), Gate()
        calls = [asyncio.ensure_future(pool.run(gate.job, n)) for n in range(6)]
        await until(lambda: len(gate.started) == 2)
        await asyncio.sleep(0.05)
        assert gate.started == [0, 1]  # the other four wait on the loop, not in threads
        gate.release.set()
        assert await asyncio.gather(*calls) == [0, 10, 20, 30, 40, 50]
        assert gate.started == [0, 1, 2, 3, 4, 5] and gate.most == 2

    asyncio.run(main())


def test_a_thread_waiting_upstream_lets_the_next_request_start() -> None:
    """A hung directory must not hold a slot: the request behind it starts while the first one waits."""
    upstream = threading.Event()

    def waits_on_directory() -> str:
        with waiting_upstream():
            assert upstream.wait(5)
        return "directory answered"

    async def main() -> None:
        pool = ProtocolThreads(asyncio.get_running_loop(), slots=1)
        slow = asyncio.ensure_future(pool.run(waits_on_directory))
        assert await asyncio.wait_for(pool.run(lambda: "computed"), 5) == "computed"
        assert not slow.done()
        upstream.set()
        assert await slow == "directory answered"
        gate = Gate()  # the slot is back to one once the wait is over
        calls = [asyncio.ensure_future(pool.run(gate.job, n)) for n in range(3)]
        await until(lambda: len(gate.started) == 1)
        await asyncio.sleep(0.05)
        assert gate.started == [0]
        gate.release.set()
        await asyncio.gather(*calls)

    asyncio.run(main())


def test_context_variables_and_exceptions_cross_the_hop() -> None:
    def fails() -> None:
        raise ValueError(f"refused for {request_id.get()}")

    async def main() -> None:
        pool = ProtocolThreads(asyncio.get_running_loop())
        request_id.set("req-7")
        assert await pool.run(request_id.get) == "req-7"
        with pytest.raises(ValueError, match="refused for req-7"):
            await pool.run(fails)

    asyncio.run(main())


def test_a_cancelled_request_that_waits_never_runs_and_one_that_runs_finishes_first() -> None:
    """Cancelling (a server shutting down) must not cut short a grant that is writing: the request's task ends
    only once its thread has."""
    finished = threading.Event()
    never = threading.Event()

    def writes(gate: Gate) -> None:
        gate.job(0)
        finished.set()

    async def main() -> None:
        pool, gate = ProtocolThreads(asyncio.get_running_loop(), slots=1), Gate()
        running = asyncio.ensure_future(pool.run(writes, gate))
        queued = asyncio.ensure_future(pool.run(never.set))
        await until(lambda: gate.started == [0])
        queued.cancel()
        running.cancel()
        await asyncio.sleep(0.05)
        assert not running.done()  # still waiting for its thread
        gate.release.set()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert finished.is_set()
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert await pool.run(lambda: "next") == "next"  # the slot came back
        assert not never.is_set()

    asyncio.run(main())


def test_threads_started_for_upstream_waits_retire_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpuslots, "IDLE_SECONDS", 0.05)
    upstream = threading.Event()

    def waits_on_directory() -> None:
        with waiting_upstream():
            assert upstream.wait(5)

    def protocol_threads() -> int:
        return sum(t.name == "dexpy-protocol" for t in threading.enumerate())

    async def main() -> None:
        before = protocol_threads()
        pool = ProtocolThreads(asyncio.get_running_loop(), slots=1)
        waiting = [asyncio.ensure_future(pool.run(waits_on_directory)) for _ in range(4)]
        await until(lambda: protocol_threads() == before + 4)
        upstream.set()
        await asyncio.gather(*waiting)
        await until(lambda: protocol_threads() == before + 1)  # one stays for the one slot
        assert await pool.run(lambda: 42) == 42

    asyncio.run(main())
