"""A read-only overlay of the clients, passwords and connectors named in the config file (Dex's
`storage/static.go`): they win over a stored record with the same key, cannot be written, and everything
else goes to the backend underneath. Password emails are matched without regard to case, as in Dex.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from dexpy.model import Client, ConnectorRecord, Password
from dexpy.storage import Invalid, Storage
from dexpy.storage.codec import require_kind

R = TypeVar("R")


def _by_key(records: Iterable[Any]) -> dict[str, Any]:
    return {record.key: copy.deepcopy(record) for record in records}


def _private_copy(record: R) -> R:
    """A copy the caller may change, made per read: the static kinds hold strings, bytes, booleans and flat
    lists of strings, so copying the record and its lists is as private as a deep copy at a fraction of
    its cost."""
    copied = copy.copy(record)
    for name, value in vars(copied).items():
        if isinstance(value, list):
            setattr(copied, name, list(value))
    return copied


class StaticStorage:
    def __init__(
        self,
        inner: Storage,
        clients: Iterable[Client] = (),
        passwords: Iterable[Password] = (),
        connectors: Iterable[ConnectorRecord] = (),
    ) -> None:
        self.inner = inner
        self.stale_copies = inner.stale_copies
        self._static: dict[type, dict[str, Any]] = {
            Client: _by_key(clients),
            Password: _by_key(passwords),
            ConnectorRecord: _by_key(connectors),
        }

    def _lookup(self, kind: type, key: str) -> tuple[str, Any]:
        """The backend key for `key`, and the static record it names, if any."""
        if kind is Password:
            key = key.lower()
        return key, self._static.get(kind, {}).get(key)

    def _writable(self, kind: type, key: str, verb: str) -> str:
        key, static = self._lookup(kind, key)
        if static is not None:
            raise Invalid(f"static {require_kind(kind)}: read-only, cannot {verb} {key!r}")
        return key

    def create(self, record: Any) -> None:
        self._writable(type(record), record.key, "create")
        self.inner.create(record)

    def get(self, kind: type[R], key: str) -> R:
        return self._static_or(kind, key, self.inner.get)

    def get_possibly_stale(self, kind: type[R], key: str) -> R:
        return self._static_or(kind, key, self.inner.get_possibly_stale)

    def _static_or(self, kind: type[R], key: str, read: Callable[[type[R], str], R]) -> R:
        key, static = self._lookup(kind, key)
        if static is not None:
            found: R = _private_copy(static)
            return found
        return read(kind, key)

    def get_many(self, kind: type[R], keys: Sequence[str]) -> dict[str, R]:
        found: dict[str, R] = {}
        stored_keys: dict[str, str] = {}
        for key in keys:
            stored_key, static = self._lookup(kind, key)
            if static is not None:
                found[key] = _private_copy(static)
            else:
                stored_keys[stored_key] = key
        if stored_keys:
            stored = self.inner.get_many(kind, list(stored_keys))
            found.update({stored_keys[k]: record for k, record in stored.items()})
        return found

    def list(self, kind: type[R]) -> list[R]:
        static = self._static.get(kind, {})
        stored: list[Any] = self.inner.list(kind)
        records = [r for r in stored if r.key not in static] + [_private_copy(r) for r in static.values()]
        return sorted(records, key=lambda r: r.key)

    def update(self, kind: type[R], key: str, updater: Callable[[R], R]) -> R:
        return self.inner.update(kind, self._writable(kind, key, "update"), updater)

    def delete(self, kind: type[R], key: str) -> None:
        self.inner.delete(kind, self._writable(kind, key, "delete"))

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        return self.inner.garbage_collect(now)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()
