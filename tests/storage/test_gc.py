from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpy.clock import FrozenClock
from dexpy.config import RefreshTokenExpiry
from dexpy.model import AuthCode, OfflineSessions, RefreshToken
from dexpy.storage import NotFound, Storage
from dexpy.storage.gc import ORPHAN_GRACE, GarbageCollector
from dexpy.storage.memory import MemoryStorage
from dexpy.storage.sqlite import SQLiteStorage
from tests.fixtures.waiting import wait_until
from tests.storage.samples import T0, auth_code, offline_sessions, refresh_token, with_expiry

POLICY = RefreshTokenExpiry(absolute_lifetime=timedelta(hours=24), valid_if_not_used_for=timedelta(hours=1))


def token(n: int, now: datetime, age: timedelta, idle: timedelta) -> RefreshToken:
    return dataclasses.replace(refresh_token(n), created_at=now - age, last_used=now - idle)


def ids(storage: Storage, kind: type) -> list[str]:
    records: list[Any] = storage.list(kind)
    return [r.key for r in records]


def test_sweep_deletes_expired_records_and_refresh_tokens_past_either_lifetime(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock(T0)
    now = clock()
    storage.create(with_expiry(auth_code(1), now - timedelta(seconds=1)))
    storage.create(with_expiry(auth_code(2), now + timedelta(seconds=1)))
    storage.create(token(1, now, age=timedelta(hours=25), idle=timedelta(minutes=1)))
    storage.create(token(2, now, age=timedelta(hours=2), idle=timedelta(minutes=61)))
    storage.create(token(3, now, age=timedelta(hours=23), idle=timedelta(minutes=59)))
    for n in (1, 3):
        storage.create(offline_sessions(n))
    sweeper = GarbageCollector(storage, clock, refresh_policy=POLICY)

    with caplog.at_level(logging.INFO, logger="dexpy.storage.gc"):
        counts = sweeper.sweep_once()

    assert (counts[AuthCode.KIND], counts[RefreshToken.KIND]) == (1, 2)
    assert "authcode=1" in caplog.text and "refreshtoken=2" in caplog.text
    assert ids(storage, AuthCode) == ["code-2"]
    assert ids(storage, RefreshToken) == ["refresh-3"]
    user1 = storage.get(OfflineSessions, offline_sessions(1).key)
    assert user1.refresh == {"client-2": offline_sessions(1).refresh["client-2"]}
    assert storage.get(OfflineSessions, offline_sessions(3).key) == offline_sessions(3)

    clock.advance(timedelta(minutes=2))
    assert sweeper.sweep_once()[RefreshToken.KIND] == 1
    assert ids(storage, RefreshToken) == []


def test_zero_lifetimes_keep_refresh_tokens_forever(storage: Storage) -> None:
    now = T0
    storage.create(token(1, now, age=timedelta(days=3650), idle=timedelta(days=3650)))
    storage.create(offline_sessions(1))
    assert GarbageCollector(storage, FrozenClock(now)).sweep_once()[RefreshToken.KIND] == 0
    assert ids(storage, RefreshToken) == ["refresh-1"]


def test_unlinked_tokens_are_deleted_once_past_the_grace(storage: Storage) -> None:
    """A login that failed between creating its token and linking it leaves a token nobody holds."""
    storage.create(token(1, T0, age=ORPHAN_GRACE + timedelta(seconds=1), idle=timedelta(0)))  # linked below
    storage.create(token(2, T0, age=ORPHAN_GRACE + timedelta(seconds=1), idle=timedelta(0)))  # orphan
    storage.create(token(3, T0, age=ORPHAN_GRACE - timedelta(seconds=1), idle=timedelta(0)))  # a login linking it
    dex_written = dataclasses.replace(offline_sessions(1), tokens={})  # Dex links in `refresh` only
    storage.create(dex_written)
    assert GarbageCollector(storage, FrozenClock(T0)).sweep_once()[RefreshToken.KIND] == 1
    assert ids(storage, RefreshToken) == ["refresh-1", "refresh-3"]
    assert storage.get(OfflineSessions, dex_written.key) == dex_written


def test_unavailable_storage_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "dex.db")
    store = SQLiteStorage(path, busy_timeout=0.05)
    store.create(with_expiry(auth_code(1), T0 - timedelta(days=1)))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="dexpy.storage.gc"):
            assert GarbageCollector(store, FrozenClock(T0)).sweep_once() == {}
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "storage unavailable" in caplog.text and "locked" in caplog.text
    assert ids(store, AuthCode) == ["code-1"]
    store.close()


class FailsOnce(MemoryStorage):
    """A store whose first garbage collection breaks in a way the sweeper does not expect."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("first pass breaks")
        return super().garbage_collect(now)


def test_background_sweeper_outlives_a_failed_pass_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    store = FailsOnce()
    store.create(with_expiry(auth_code(1), T0 - timedelta(seconds=1)))
    sweeper = GarbageCollector(store, FrozenClock(T0), interval=timedelta(milliseconds=5))
    sweeper.start()
    try:
        wait_until(lambda: ids(store, AuthCode) == [])
    finally:
        sweeper.stop()
    assert store.failed and "first pass breaks" in caplog.text
    assert "dexpy-gc" not in [t.name for t in threading.enumerate()]


def test_a_sweeper_starts_once() -> None:
    sweeper = GarbageCollector(MemoryStorage(), FrozenClock(T0))
    sweeper.start()
    try:
        with pytest.raises(RuntimeError):
            sweeper.start()
    finally:
        sweeper.stop()


def test_a_deleted_token_without_offline_sessions_is_fine(storage: Storage) -> None:
    storage.create(token(1, T0, age=timedelta(days=2), idle=timedelta(0)))
    assert GarbageCollector(storage, FrozenClock(T0), refresh_policy=POLICY).sweep_once()[RefreshToken.KIND] == 1
    with pytest.raises(NotFound):
        storage.get(RefreshToken, "refresh-1")
