"""What only the SQLite backend promises: several processes on one file, durability, and `Unavailable`."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dexpy.model import Client, DeviceToken
from dexpy.storage import Unavailable
from dexpy.storage.sqlite import SQLiteStorage
from tests.storage.samples import sample

INCREMENTER = textwrap.dedent(
    """
    import dataclasses, sys
    from dexpy.model import DeviceToken
    from dexpy.storage.sqlite import SQLiteStorage

    path, key, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SQLiteStorage(path)
    sys.stdin.readline()  # start together with the other process
    for _ in range(rounds):
        store.update(DeviceToken, key, lambda t: dataclasses.replace(t, poll_interval=t.poll_interval + 1))
    store.close()
    """
)


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "dex.db")


@pytest.fixture
def store(db_path: str) -> Iterator[SQLiteStorage]:
    s = SQLiteStorage(db_path)
    yield s
    s.close()


def test_two_processes_incrementing_one_counter_lose_nothing(store: SQLiteStorage, db_path: str) -> None:
    rounds = 300
    token = sample(DeviceToken)
    store.create(token)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", INCREMENTER, db_path, token.key, str(rounds)], stdin=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.close()
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    assert store.get(DeviceToken, token.key).poll_interval == token.poll_interval + 2 * rounds


def test_records_survive_reopening_the_file(store: SQLiteStorage, db_path: str) -> None:
    store.create(sample(Client))
    store.close()
    reopened = SQLiteStorage(db_path)
    assert reopened.list(Client) == [sample(Client)]
    reopened.close()


def test_an_update_that_changes_nothing_writes_nothing(store: SQLiteStorage, db_path: str) -> None:
    token = sample(DeviceToken)
    store.create(token)
    observer = sqlite3.connect(db_path)  # PRAGMA data_version moves when another connection commits a change

    def version() -> int:
        return int(observer.execute("PRAGMA data_version").fetchone()[0])

    before = version()
    assert store.update(DeviceToken, token.key, lambda t: dataclasses.replace(t)) == token
    assert version() == before
    store.update(DeviceToken, token.key, lambda t: dataclasses.replace(t, poll_interval=t.poll_interval + 1))
    assert version() != before
    observer.close()


def test_the_file_is_in_wal_mode(store: SQLiteStorage, db_path: str) -> None:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_held_write_lock_makes_writes_unavailable_but_not_reads(db_path: str) -> None:
    store = SQLiteStorage(db_path, busy_timeout=0.05)
    store.create(Client(id="existing"))
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Unavailable, match="locked"):
            store.create(Client(id="new"))
        with pytest.raises(Unavailable, match="locked"):
            store.update(Client, "existing", lambda c: dataclasses.replace(c, name="renamed"))
        assert store.update(Client, "existing", lambda c: c).id == "existing"  # nothing to write: no lock taken
        assert [(c.id, c.name) for c in store.list(Client)] == [("existing", "")]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.create(Client(id="new"))
    store.close()


def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    store = SQLiteStorage(str(tmp_path / "var" / "dexpy.db"))  # config.example.yaml's var/ on a fresh clone
    store.create(Client(id="c"))
    assert (tmp_path / "var" / "dexpy.db").exists()
    store.close()


def test_an_unopenable_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="unable to open"):
        SQLiteStorage(str(tmp_path))  # a directory
    (tmp_path / "a-file").write_text("")
    with pytest.raises(Unavailable, match="cannot create its directory"):
        SQLiteStorage(str(tmp_path / "a-file" / "dex.db"))


def test_an_in_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="memory storage"):
        SQLiteStorage(":memory:")


def _open_at_the_barrier(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SQLiteStorage(path).close()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(repr(exc))


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """What `dexpy serve --workers N` does on a first start: every worker opens the same new file."""
    context = multiprocessing.get_context("fork")
    for attempt in range(8):
        path = str(tmp_path / f"new-{attempt}.db")
        barrier, results = context.Barrier(6), context.Queue()
        processes = [context.Process(target=_open_at_the_barrier, args=(path, barrier, results)) for _ in range(6)]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=30) for _ in processes]
        for process in processes:
            process.join()
        assert outcomes == ["ok"] * 6
