"""In-process storage: a dict per kind behind one lock. Records go in and out as private copies."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from dexpy.model import EXPIRING_KINDS, RECORD_KINDS
from dexpy.storage import AlreadyExists, NotFound
from dexpy.storage.codec import check_updated, require_kind

R = TypeVar("R")


class MemoryStorage:
    def __init__(self) -> None:
        # Re-entrant so that an updater that (wrongly) calls back into storage fails loudly instead of hanging.
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Any]] = {require_kind(kind): {} for kind in RECORD_KINDS}

    def _table(self, kind: type) -> dict[str, Any]:
        return self._records[require_kind(kind)]

    def create(self, record: Any) -> None:
        table = self._table(type(record))
        key: str = record.key
        with self._lock:
            if key in table:
                raise AlreadyExists(f"{require_kind(type(record))} {key!r} already exists")
            table[key] = copy.deepcopy(record)

    def get(self, kind: type[R], key: str) -> R:
        table = self._table(kind)
        with self._lock:
            if key not in table:
                raise NotFound(f"{require_kind(kind)} {key!r} not found")
            record: R = copy.deepcopy(table[key])
        return record

    get_possibly_stale = get  # one process: never stale
    stale_copies = False

    def get_many(self, kind: type[R], keys: Sequence[str]) -> dict[str, R]:
        table = self._table(kind)
        with self._lock:
            return {key: copy.deepcopy(table[key]) for key in keys if key in table}

    def list(self, kind: type[R]) -> list[R]:
        table = self._table(kind)
        with self._lock:
            return [copy.deepcopy(table[key]) for key in sorted(table)]

    def update(self, kind: type[R], key: str, updater: Callable[[R], R]) -> R:
        table = self._table(kind)
        with self._lock:
            if key not in table:
                raise NotFound(f"{require_kind(kind)} {key!r} not found")
            updated = updater(copy.deepcopy(table[key]))
            check_updated(kind, key, updated)
            table[key] = copy.deepcopy(updated)
        return updated

    def delete(self, kind: type[R], key: str) -> None:
        table = self._table(kind)
        with self._lock:
            if table.pop(key, None) is None:
                raise NotFound(f"{require_kind(kind)} {key!r} not found")

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._lock:
            for kind in EXPIRING_KINDS:
                table = self._table(kind)
                expired = [key for key, record in table.items() if record.expiry < now]
                for key in expired:
                    del table[key]
                counts[require_kind(kind)] = len(expired)
        return counts

    def ping(self) -> None:
        pass  # in this process: always there

    def close(self) -> None:
        pass
