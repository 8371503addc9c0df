"""SQLite storage: one table of JSON records, safe for several threads and several processes on one file.

Each thread gets its own connection (WAL lets readers run beside a writer). `update` runs inside
`BEGIN IMMEDIATE`, which takes the file's write lock before reading, so the compare-and-swap holds across
processes and the updater runs exactly once. Lock waits, I/O failures and unopenable files become
`Unavailable`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from dexpy.loopwork import waits
from dexpy.model import EXPIRING_KINDS
from dexpy.storage import AlreadyExists, NotFound, Unavailable
from dexpy.storage.codec import check_updated, dumps, loads, require_kind

R = TypeVar("R")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    json TEXT NOT NULL,
    expiry INTEGER,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expiry ON records (kind, expiry) WHERE expiry IS NOT NULL;
"""

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_UNAVAILABLE_MARKS = ("locked", "busy", "disk i/o", "unable to open", "disk is full", "readonly")
"""Operational errors that mean "the file cannot be used now", as opposed to a bug in a statement."""


class _Guard:
    """Turns "the file cannot be used now" into Unavailable (a class, not @contextmanager: every read has one,
    and a generator costs ~1 µs more)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type: type[BaseException] | None, err: BaseException | None, tb: object) -> None:
        if isinstance(err, sqlite3.OperationalError) and any(mark in str(err).lower() for mark in _UNAVAILABLE_MARKS):
            raise Unavailable(f"sqlite3 storage {self.path}: {err}") from err


def _micros(moment: datetime) -> int:
    return (moment - _UNIX_EPOCH) // timedelta(microseconds=1)


def _expiry_column(record: Any) -> int | None:
    return _micros(record.expiry) if type(record) in EXPIRING_KINDS else None


class SQLiteStorage:
    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        if path in ("", ":memory:"):
            raise ValueError("sqlite3 storage needs a file; use the memory storage for an in-process store")
        self.path = path
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)  # e.g. var/ of config.example.yaml on a fresh clone
        except OSError as exc:
            raise Unavailable(f"sqlite3 storage {path}: cannot create its directory: {exc.strerror or exc}") from exc
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        with self._guard():
            db = self._db()
            self._ensure_wal(db)
            db.executescript(_SCHEMA)

    def _ensure_wal(self, db: sqlite3.Connection) -> None:
        """Switch a new file to WAL. A mode switch does not wait out the busy timeout: when several processes
        open a new file at once (workers starting), the losers see "locked" at once; retry until one has won."""
        deadline = time.monotonic() + self._busy_timeout
        while db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as err:
                if "locked" not in str(err).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _guard(self) -> _Guard:
        return _Guard(self.path)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the file's write lock from its start."""
        with self._guard():
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @waits  # a write may wait for another process's write lock (busy_timeout); WAL readers never wait
    def create(self, record: Any) -> None:
        kind = require_kind(type(record))
        key: str = record.key
        row = (kind, key, dumps(record), _expiry_column(record))
        with self._guard():
            try:
                self._db().execute("INSERT INTO records (kind, key, json, expiry) VALUES (?, ?, ?, ?)", row)
            except sqlite3.IntegrityError as err:
                raise AlreadyExists(f"{kind} {key!r} already exists") from err

    def _read(self, db: sqlite3.Connection, kind: type[R], key: str) -> R:
        return loads(kind, self._read_text(db, kind, key))

    def _read_text(self, db: sqlite3.Connection, kind: type, key: str) -> str:
        name = require_kind(kind)
        row = db.execute("SELECT json FROM records WHERE kind = ? AND key = ?", (name, key)).fetchone()
        if row is None:
            raise NotFound(f"{name} {key!r} not found")
        return str(row[0])

    def get(self, kind: type[R], key: str) -> R:
        with self._guard():
            return self._read(self._db(), kind, key)

    get_possibly_stale = get  # a local read is as cheap as any copy
    stale_copies = False

    def get_many(self, kind: type[R], keys: Sequence[str]) -> dict[str, R]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        with self._guard():
            rows = self._db().execute(f"SELECT key, json FROM records WHERE kind = ? AND key IN ({marks})",
                                      (require_kind(kind), *wanted)).fetchall()
        return {str(key): loads(kind, str(text)) for key, text in rows}

    def list(self, kind: type[R]) -> list[R]:
        with self._guard():
            rows = self._db().execute("SELECT json FROM records WHERE kind = ? ORDER BY key", (require_kind(kind),))
            return [loads(kind, text) for (text,) in rows.fetchall()]

    @waits  # a write may wait for another process's write lock (busy_timeout); WAL readers never wait
    def update(self, kind: type[R], key: str, updater: Callable[[R], R]) -> R:
        """Optimistic: the updater first runs on the committed row, without the file's write lock; a result
        that serialises as stored (nothing to write, say a refresh within a minute of its last recorded use)
        returns without ever taking it. Otherwise the write lock is taken, and the updater runs again if the
        row changed meanwhile."""
        with self._guard():
            seen = self._read_text(self._db(), kind, key)
        updated, text = self._apply(kind, key, updater, seen)
        if text == seen:
            return updated
        with self._transaction() as db:
            stored = self._read_text(db, kind, key)
            if stored != seen:
                updated, text = self._apply(kind, key, updater, stored)
            if text != stored:
                db.execute("UPDATE records SET json = ?, expiry = ? WHERE kind = ? AND key = ?",
                           (text, _expiry_column(updated), require_kind(kind), key))
        return updated

    @staticmethod
    def _apply(kind: type[R], key: str, updater: Callable[[R], R], stored: str) -> tuple[R, str]:
        updated = updater(loads(kind, stored))
        check_updated(kind, key, updated)
        return updated, dumps(updated)

    @waits  # a write may wait for another process's write lock (busy_timeout); WAL readers never wait
    def delete(self, kind: type[R], key: str) -> None:
        name = require_kind(kind)
        with self._guard():
            cursor = self._db().execute("DELETE FROM records WHERE kind = ? AND key = ?", (name, key))
        if cursor.rowcount == 0:
            raise NotFound(f"{name} {key!r} not found")

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._transaction() as db:
            for kind in EXPIRING_KINDS:
                name = require_kind(kind)
                cursor = db.execute("DELETE FROM records WHERE kind = ? AND expiry < ?", (name, _micros(now)))
                counts[name] = cursor.rowcount
        return counts

    def ping(self) -> None:
        with self._guard():
            self._db().execute("SELECT 1 FROM records LIMIT 1").fetchall()

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        self._local = threading.local()
