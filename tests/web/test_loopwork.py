"""Protocol work on the event loop (dexpy.loopwork): it runs on the loop's thread, what it waits on runs in a
thread while the loop serves other requests, errors and context variables cross both ways, and a cancelled
request never cuts its work short."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from dexpy import loopwork
from dexpy.loopwork import off_loop, waits
from tests.fixtures.waiting import until

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def _serve(main) -> None:
    """Run `main` on a new loop, closing the loop's wait threads at the end as the app's lifespan does."""
    async def serving() -> None:
        try:
            await main()
        finally:
            loopwork.close()

    asyncio.run(serving())


def test_work_runs_on_the_loop_thread_and_its_waits_in_another() -> None:
    threads: dict[str, int] = {}

    def wait() -> str:
        threads["wait"] = threading.get_ident()
        return "answer"

    def work(n: int) -> tuple[int, str]:
        threads["work"] = threading.get_ident()
        return n, off_loop(wait)

    async def main() -> None:
        assert await loopwork.run(work, 7) == (7, "answer")
        assert threads["work"] == threading.get_ident() != threads["wait"]

    _serve(main)


def test_the_loop_serves_other_requests_while_one_waits() -> None:
    release, order = threading.Event(), []

    def slow() -> str:
        assert release.wait(5)
        return "slow"

    def waiting_work() -> str:
        order.append("waiting starts")
        answer = off_loop(slow)
        order.append("waiting ends")
        return answer

    def quick_work() -> str:
        order.append("quick")
        return "quick"

    async def main() -> None:
        waiting = asyncio.ensure_future(loopwork.run(waiting_work))
        await until(lambda: order == ["waiting starts"])
        assert await loopwork.run(quick_work) == "quick"  # would hang if the wait held the loop
        release.set()
        assert await waiting == "slow"

    _serve(main)
    assert order == ["waiting starts", "quick", "waiting ends"]


def test_errors_cross_from_the_wait_into_the_work_and_out_to_the_caller() -> None:
    def failing() -> None:
        raise LookupError("upstream said no")

    def recovering_work() -> str:
        try:
            off_loop(failing)
        except LookupError as exc:
            return f"recovered from {exc}"
        return "not reached"

    def failing_work() -> None:
        off_loop(failing)

    async def main() -> None:
        assert await loopwork.run(recovering_work) == "recovered from upstream said no"
        with pytest.raises(LookupError, match="upstream said no"):
            await loopwork.run(failing_work)

    _serve(main)


def test_context_variables_reach_the_work_and_its_waits() -> None:
    def work() -> tuple[str, str]:
        return request_id.get(), off_loop(request_id.get)

    async def main() -> None:
        request_id.set("req-42")
        assert await loopwork.run(work) == ("req-42", "req-42")

    _serve(main)


def test_a_cancelled_request_lets_its_work_finish_before_it_ends() -> None:
    release, done = threading.Event(), []

    def write() -> None:
        assert release.wait(5)

    def work() -> None:
        off_loop(write)
        done.append("second write")  # the part a cut-short grant would lose

    async def main() -> None:
        request = asyncio.ensure_future(loopwork.run(work))
        await asyncio.sleep(0.05)
        request.cancel()
        await asyncio.sleep(0.05)
        assert not request.done()  # still waiting for the work, not abandoned mid-way
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await request
        assert done == ["second write"]

    _serve(main)


def test_outside_protocol_work_a_wait_is_a_plain_call() -> None:
    @waits
    def where() -> int:
        return threading.get_ident()

    assert where() == threading.get_ident()  # e.g. the CLI, a background thread, a login page's thread


def test_closing_ends_the_wait_threads() -> None:
    before = set(threading.enumerate())

    def started() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("dexpy-wait")} - before

    async def main() -> None:
        await loopwork.run(lambda: off_loop(time.sleep, 0))
        assert started()
        loopwork.close()

    asyncio.run(main())
    deadline = time.monotonic() + 5
    while started():
        assert time.monotonic() < deadline, "wait threads outlived their loop"
        time.sleep(0.01)
