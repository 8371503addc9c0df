"""Protocol work on the event loop (dexpy.loopwork): it runs on the loop's thread, what it waits on runs in a
thread or as a coroutine on the loop while the loop serves other requests, errors and context variables cross
both ways, and a cancelled request never cuts its work short."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from dexpy import loopwork
from dexpy.loopwork import off_loop, waits
from tests.fixtures.protocol_work import on_new_loop, wait_threads
from tests.fixtures.waiting import until, wait_until

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


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

    on_new_loop(main)


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

    on_new_loop(main)
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

    on_new_loop(main)


def test_context_variables_reach_the_work_and_its_waits() -> None:
    def work() -> tuple[str, str]:
        return request_id.get(), off_loop(request_id.get)

    async def main() -> None:
        request_id.set("req-42")
        assert await loopwork.run(work) == ("req-42", "req-42")

    on_new_loop(main)


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

    on_new_loop(main)


def test_a_coroutine_awaited_by_the_work_runs_on_the_loop_while_the_loop_serves_others() -> None:
    order: list[str] = []
    answered = asyncio.Event()

    async def api_call() -> tuple[str, int]:
        order.append("call starts")
        await answered.wait()
        return request_id.get(), threading.get_ident()

    def awaiting_work() -> tuple[str, int]:
        return loopwork.awaiting(api_call())

    def quick_work() -> str:
        order.append("quick")
        return "quick"

    async def main() -> None:
        request_id.set("req-7")
        waiting = asyncio.ensure_future(loopwork.run(awaiting_work))
        await until(lambda: order == ["call starts"])
        assert await loopwork.run(quick_work) == "quick"
        answered.set()
        assert await waiting == ("req-7", threading.get_ident())  # no thread, the work's context

    on_new_loop(main)
    assert order == ["call starts", "quick"]


def test_an_awaited_coroutines_error_is_raised_in_the_work() -> None:
    async def refused() -> None:
        raise LookupError("the API said no")

    def work() -> str:
        try:
            loopwork.awaiting(refused())
        except LookupError as exc:
            return f"handled {exc}"
        return "not reached"

    async def main() -> None:
        assert await loopwork.run(work) == "handled the API said no"

    on_new_loop(main)


def test_awaiting_outside_protocol_work_is_refused_and_leaves_no_coroutine_behind() -> None:
    async def call() -> None:
        raise AssertionError("must not run")

    coroutine = call()
    assert not loopwork.as_protocol_work()
    with pytest.raises(RuntimeError, match="outside protocol work"):
        loopwork.awaiting(coroutine)
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning later


def test_what_is_registered_at_close_is_closed_with_the_loop() -> None:
    closed: list[str] = []

    async def close_session() -> None:
        closed.append("session")

    async def main() -> None:
        loopwork.at_close(close_session)
        assert closed == []

    on_new_loop(main)
    assert closed == ["session"]


def test_outside_protocol_work_a_wait_is_a_plain_call() -> None:
    @waits
    def where() -> int:
        return threading.get_ident()

    assert where() == threading.get_ident()  # e.g. the CLI, a background thread, a login page's thread


def test_closing_ends_the_wait_threads() -> None:
    before = wait_threads()

    async def main() -> None:
        await loopwork.run(lambda: off_loop(time.sleep, 0))
        assert wait_threads() - before
        await loopwork.close()

    asyncio.run(main())
    wait_until(lambda: not wait_threads() - before)  # the wait threads end with their loop


def test_an_apps_wait_threads_end_with_it(tmp_path) -> None:
    """Each app's loop has its own wait threads (every test server is one): they end when its lifespan does."""
    from tests.fixtures.dexpy_server import run_dexpy
    from tests.fixtures.rp import RelyingParty

    before = wait_threads()
    with run_dexpy(tmp_path, "oauth2:\n  passwordConnector: local\n") as server:
        rp = RelyingParty(server.issuer)
        answer = rp.token(grant_type="password", username="admin@example.com", password="password", scope="openid")
        assert answer.status_code == 200
        assert wait_threads() - before  # bcrypt waited in a wait thread
    wait_until(lambda: not wait_threads() - before)  # the threads end with their app
