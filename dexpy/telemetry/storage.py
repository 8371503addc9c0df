"""A Storage proxy that times every call and counts failures, and notices signing key rotations."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import Histogram

from dexpy.model import Keys
from dexpy.storage import AlreadyExists, NotFound, Storage, StorageError
from dexpy.storage.codec import require_kind
from dexpy.telemetry import KEY_ROTATIONS, STORAGE_ERRORS, STORAGE_LATENCY

R = TypeVar("R")


@functools.cache
def _latency(verb: str, kind: str) -> Histogram:
    """The histogram child of one (verb, kind): looked up once, not on every storage call."""
    return STORAGE_LATENCY.labels(verb=verb, kind=kind)


def _kid(keys: Keys) -> object:
    return (keys.signing_key or {}).get("kid")


_ANSWERS = (NotFound, AlreadyExists)
"""What the backend answers about a record, not failures: a lockout counter or a revocation that does not exist
is the usual answer, a few times a refresh."""


class _Timed:
    """Times one storage call and counts its failure (a class, not @contextmanager: a few storage calls are
    on every token request, and a generator costs ~1 µs more each)."""

    __slots__ = ("verb", "kind", "start")

    def __init__(self, verb: str, kind: str) -> None:
        self.verb, self.kind = verb, kind

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        _latency(self.verb, self.kind).observe(time.perf_counter() - self.start)
        if isinstance(exc, StorageError) and not isinstance(exc, _ANSWERS):
            STORAGE_ERRORS.labels(verb=self.verb, kind=self.kind, error=type(exc).__name__).inc()


class InstrumentedStorage:
    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.stale_copies = inner.stale_copies

    def _timed(self, verb: str, kind: type) -> _Timed:
        return _Timed(verb, require_kind(kind))

    def create(self, record: Any) -> None:
        with self._timed("create", type(record)):
            self.inner.create(record)

    def get(self, kind: type[R], key: str) -> R:
        with self._timed("get", kind):
            return self.inner.get(kind, key)

    def get_possibly_stale(self, kind: type[R], key: str) -> R:
        with self._timed("get", kind):
            return self.inner.get_possibly_stale(kind, key)

    def get_many(self, kind: type[R], keys: Sequence[str]) -> dict[str, R]:
        with self._timed("get_many", kind):
            return self.inner.get_many(kind, keys)

    def list(self, kind: type[R]) -> list[R]:
        with self._timed("list", kind):
            return self.inner.list(kind)

    def update(self, kind: type[R], key: str, updater: Callable[[R], R]) -> R:
        with self._timed("update", kind):
            if kind is not Keys:
                return self.inner.update(kind, key, updater)
            before: list[object] = []

            def watched(current: R) -> R:
                before.append(_kid(current))  # type: ignore[arg-type]
                return updater(current)

            updated = self.inner.update(kind, key, watched)
            if before and before[-1] != _kid(updated):  # type: ignore[arg-type]
                KEY_ROTATIONS.inc()
            return updated

    def delete(self, kind: type[R], key: str) -> None:
        with self._timed("delete", kind):
            self.inner.delete(kind, key)

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        start = time.perf_counter()
        try:
            return self.inner.garbage_collect(now)
        finally:
            _latency("garbage_collect", "all").observe(time.perf_counter() - start)

    def ping(self) -> None:
        with self._timed("ping", Keys):
            self.inner.ping()

    def close(self) -> None:
        self.inner.close()
