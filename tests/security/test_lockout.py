"""Brute-force lockout of password logins (form and password grant) and client secrets, over real HTTP."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client import REGISTRY

from dexpy.clock import FrozenClock
from dexpy.config import StorageConfig, load_config
from dexpy.model import FailureCounter
from dexpy.runtime import build_storage
from dexpy.security.usernames import user_ref
from tests.fixtures.dexpy_server import CLIENT_SECRET, serve_config, write_config
from tests.fixtures.rp import RelyingParty
from tests.security.conftest import NO_RATE_LIMIT, comparable, run_with_web, submit_password

ADMIN = "admin@example.com"
RIGHT = "password"
WRONG = "Wrong-Guess-7f3a"


def lockouts(label: str) -> float:
    return REGISTRY.get_sample_value("dexpy_lockouts_total", {"connector": label}) or 0.0


def fail(rp: RelyingParty, times: int, username: str = ADMIN) -> None:
    for _ in range(times):
        assert submit_password(rp, username, WRONG).status_code == 401


def test_right_password_is_refused_like_a_wrong_one_during_lockout(rp, clock, caplog):
    before = lockouts("local")
    fail(rp, 5)
    with caplog.at_level(logging.WARNING, logger="dexpy.security.lockout"):
        locked = submit_password(rp, ADMIN, RIGHT)
    wrong = submit_password(rp, ADMIN, WRONG)
    assert locked.status_code == wrong.status_code == 401
    assert "Invalid" in locked.text and comparable(locked) == comparable(wrong)
    assert lockouts("local") == before + 1
    clock.advance(timedelta(minutes=1, seconds=1))
    assert submit_password(rp, ADMIN, RIGHT).status_code == 303


def test_a_lockout_is_logged_once_with_whom_it_locks(rp, caplog):
    with caplog.at_level(logging.WARNING, logger="dexpy.security.lockout"):
        fail(rp, 7)
    lines = [r for r in caplog.records if r.name == "dexpy.security.lockout"]
    assert len(lines) == 1
    assert lines[0].lockout_subject == f"user:local:{user_ref(ADMIN)}" and lines[0].failures == 5


def test_backoff_doubles_after_each_lockout(rp, clock):
    fail(rp, 5)
    clock.advance(timedelta(minutes=1, seconds=1))
    fail(rp, 1)  # the sixth failure: two minutes now
    clock.advance(timedelta(minutes=1, seconds=30))
    assert submit_password(rp, ADMIN, RIGHT).status_code == 401
    clock.advance(timedelta(seconds=31))
    assert submit_password(rp, ADMIN, RIGHT).status_code == 303


def test_success_before_the_limit_resets_the_user_counter(rp, dexpy):
    fail(rp, 4)
    assert submit_password(rp, ADMIN, RIGHT).status_code == 303
    fail(rp, 4)
    assert submit_password(rp, ADMIN, RIGHT).status_code == 303
    counters = {c.id: c.failures for c in dexpy.runtime.storage.list(FailureCounter)}
    assert f"user:local:{user_ref(ADMIN)}" not in counters and counters["ip:127.0.0.1"] == 8


def test_spelling_variants_of_a_name_share_its_counter(rp):
    for variant in ("Admin@Example.com", " admin@example.com ", "admin@example.com\x00", "ａｄｍｉｎ@example.com",
                    "admin@exam\u200bple.com"):
        assert submit_password(rp, variant, WRONG).status_code == 401
    assert submit_password(rp, ADMIN, RIGHT).status_code == 401


def test_attempts_during_lockout_are_not_counted_and_write_nothing(rp, dexpy):
    fail(rp, 5)
    storage = dexpy.runtime.storage
    before = sorted((c.id, c.failures, c.locked_until) for c in storage.list(FailureCounter))
    fail(rp, 3)
    assert sorted((c.id, c.failures, c.locked_until) for c in storage.list(FailureCounter)) == before


def test_unknown_user_wrong_password_and_lockout_answer_alike_and_as_slowly(rp):
    def timed(username: str, password: str) -> tuple[str, float]:
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            response = submit_password(rp, username, password)
            samples.append(time.perf_counter() - start)
        return comparable(response).replace(username, "USER"), statistics.median(samples)

    unknown_page, unknown = timed("nobody@example.com", WRONG)
    wrong_page, wrong = timed(ADMIN, WRONG)
    empty_page, empty = timed(ADMIN, "")  # an empty password must not skip the check for a user who exists
    locked_page, locked = timed(ADMIN, RIGHT)
    assert unknown_page == wrong_page == empty_page == locked_page
    # All run one bcrypt check (~60 ms); a shortcut would answer in a few ms.
    assert min(unknown, wrong, empty, locked) > 0.5 * max(unknown, wrong, empty, locked)


def test_spraying_many_users_from_one_ip_locks_the_ip(rp):
    for n in range(20):
        assert submit_password(rp, f"user{n}@example.com", WRONG).status_code == 401
    assert submit_password(rp, ADMIN, RIGHT).status_code == 401
    assert lockouts("client_ip") >= 1


def test_the_ip_counter_follows_the_trusted_proxy_header(tmp_path, clock):
    yaml = NO_RATE_LIMIT + "  lockout:\n    ipMaxFailures: 3\n    maxFailures: 100\n" + \
        "web:\n  clientRemoteIP:\n    header: X-Forwarded-For\n    trustedProxies: [127.0.0.0/8]\n"
    with run_with_web(tmp_path, yaml, clock) as server:
        rp = RelyingParty(server.issuer)
        for n in range(3):
            submit_password(rp, f"u{n}@example.com", WRONG, headers={"X-Forwarded-For": "203.0.113.7"})
        answer = submit_password(rp, ADMIN, RIGHT, headers={"X-Forwarded-For": "203.0.113.7"})
        assert answer.status_code == 401
        elsewhere = submit_password(rp, ADMIN, RIGHT, headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
        assert elsewhere.status_code == 401  # the proxy appended .7 last: that is the client
        other = submit_password(rp, ADMIN, RIGHT, headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})
        assert other.status_code == 303


def test_password_grant_shares_the_lockout(rp, dexpy):
    def grant(password: str) -> httpx.Response:
        return rp.token(grant_type="password", username=ADMIN, password=password, scope="openid")

    for _ in range(5):
        assert grant(WRONG).json()["error"] == "invalid_grant"
    assert grant(RIGHT).json()["error"] == "invalid_grant"
    assert submit_password(rp, ADMIN, RIGHT).status_code == 401


def test_client_secret_guessing_locks_the_client(rp, clock):
    def token(secret: str) -> httpx.Response:
        return rp.http.post(f"{rp.issuer}/token", auth=("example-app", secret),
                            data={"grant_type": "refresh_token", "refresh_token": "x"})

    before = lockouts("client_secret")
    for _ in range(5):
        assert token("not-the-secret").status_code == 401
    refused = token(CLIENT_SECRET)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert lockouts("client_secret") == before + 1
    other = rp.http.post(f"{rp.issuer}/token", auth=("other-app", "other-secret"),
                         data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert other.json()["error"] == "invalid_grant"  # authenticated: another client is not locked
    clock.advance(timedelta(minutes=2))
    assert token(CLIENT_SECRET).json()["error"] == "invalid_grant"


def replicas(tmp_path: Path, clock: FrozenClock, count: int) -> list[Callable]:  # type: ignore[type-arg]
    """`count` servers on one SQLite file: separate stores, shared data, as replicas behind a balancer."""
    servers = []
    for n in range(count):
        directory = tmp_path / f"replica{n}"
        directory.mkdir()
        config = load_config(str(write_config(directory, NO_RATE_LIMIT)))
        config.storage = StorageConfig(type="sqlite3", config={"file": str(tmp_path / "shared.db")})
        servers.append(lambda config=config: serve_config(config, storage=build_storage(config), clock=clock))
    return servers


def test_lockout_is_shared_by_replicas(tmp_path, clock):
    first, second = replicas(tmp_path, clock, 2)
    with first() as a, second() as b:
        fail(RelyingParty(a.issuer), 5)
        assert submit_password(RelyingParty(b.issuer), ADMIN, RIGHT).status_code == 401
        clock.advance(timedelta(minutes=1, seconds=1))
        assert submit_password(RelyingParty(b.issuer), ADMIN, RIGHT).status_code == 303


def test_lockout_can_be_turned_off(tmp_path, clock):
    with serve(tmp_path, clock, NO_RATE_LIMIT + "  lockout:\n    enabled: false\n") as server:
        rp = RelyingParty(server.issuer)
        fail(rp, 8)
        assert submit_password(rp, ADMIN, RIGHT).status_code == 303
        assert server.runtime.storage.list(FailureCounter) == []


def serve(tmp_path: Path, clock: FrozenClock, yaml: str):  # type: ignore[no-untyped-def]
    return serve_config(load_config(str(write_config(tmp_path, yaml))), clock=clock)
