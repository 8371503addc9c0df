"""The one Storage protocol every backend implements, and its errors.

A backend stores the record kinds of `dexpy.model` (`RECORD_KINDS`), each identified within its kind by the
record's `key`. The same verbs serve every kind, so a new kind costs no new methods:

    storage.create(client)                               # AlreadyExists
    storage.get(Client, "example-app")                   # NotFound
    storage.update(Client, "example-app", updater)       # NotFound, Conflict
    storage.delete(Client, "example-app")                # NotFound
    storage.list(Client)

`update` is an atomic compare-and-swap: the updater gets a private copy of the current record and returns the
new one; the backend may call it more than once (after a concurrent write), so it must be pure. An updater
that raises aborts the update and its exception propagates unchanged.

Every method may raise `Unavailable` when the backend cannot be reached; callers turn that into a 503 or
`temporarily_unavailable`, never a half-written object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from dexpy.config import StorageConfig

R = TypeVar("R")


class StorageError(Exception):
    """Base of every storage error."""


class NotFound(StorageError):
    pass


class AlreadyExists(StorageError):
    pass


class Conflict(StorageError):
    """A compare-and-swap kept losing to concurrent writers, or a write was refused as stale."""


class Unavailable(StorageError):
    """The backend cannot be reached or answered with a server error; try again later."""


class Invalid(StorageError):
    """The backend refused the record itself (too large, a name it cannot hold); retrying will not help."""


class Storage(Protocol):
    stale_copies: bool
    """Whether `get_possibly_stale` may answer from a copy another replica has changed since (False: it answers
    as `get` does)."""

    def create(self, record: object) -> None: ...

    def get(self, kind: type[R], key: str) -> R: ...

    def get_possibly_stale(self, kind: type[R], key: str) -> R:
        """`get`, but a backend may answer from this process's copy, which another replica may have changed
        since. Only for a caller that confirms what it accepts by a compare-and-swap `update` and reads with
        `get` before refusing anything."""
        ...

    def get_many(self, kind: type[R], keys: Sequence[str]) -> dict[str, R]:
        """The records of `kind` under `keys`, by key; absent keys are left out. One round trip where the backend
        has one for it (SQLite: one query)."""
        ...

    def list(self, kind: type[R]) -> list[R]: ...

    def update(self, kind: type[R], key: str, updater: Callable[[R], R]) -> R: ...

    def delete(self, kind: type[R], key: str) -> None: ...

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        """Delete records of `EXPIRING_KINDS` whose expiry is before `now`; count deletions by KIND."""
        ...

    def ping(self) -> None:
        """One round trip to the backend, past any cache and never a write: Unavailable when it cannot answer
        (the health checks)."""
        ...

    def close(self) -> None: ...


def open_storage(config: StorageConfig) -> Storage:
    """Open the backend that `config.type` names."""
    if config.type == "memory":
        from dexpy.storage.memory import MemoryStorage

        return MemoryStorage()
    if config.type == "sqlite3":
        from dexpy.storage.sqlite import SQLiteStorage

        return SQLiteStorage(config.config["file"])
    if config.type == "kubernetes":
        from dexpy.storage.kubernetes import open_kubernetes_storage

        return open_kubernetes_storage(config.config)
    raise ValueError(f"unknown storage type {config.type!r}")


__all__ = [
    "AlreadyExists",
    "Conflict",
    "Invalid",
    "NotFound",
    "Storage",
    "StorageError",
    "Unavailable",
    "open_storage",
]
