"""A watch-fed copy of the objects of one slow-changing kind (clients, connectors, keys).

Reads are served from here once the first list has arrived, so the token endpoint does not GET its client
on every request. A background thread lists, then watches from the list's resourceVersion; on 410 it lists
again, on a broken connection it reconnects with a jittered backoff and reads go to the API meanwhile.
Writes made through this process are applied at once (`put`, `remove`) so a reader sees its own writes.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from dexpy.storage import StorageError
from dexpy.storage.kubernetes.errors import Gone
from dexpy.storage.kubernetes.transport import Transport, WatchStream

log = logging.getLogger(__name__)

Obj = dict[str, Any]
WATCH_SECONDS = 240


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _rv(obj: Obj) -> int | None:
    text = obj.get("metadata", {}).get("resourceVersion", "")
    return int(text) if isinstance(text, str) and text.isdigit() else None


def _is_older(obj: Obj, than: Obj) -> bool:
    new, old = _rv(obj), _rv(than)
    return new is not None and old is not None and new <= old


class WatchCache:
    def __init__(self, transport: Transport, path: str, list_all: Callable[[str], tuple[list[Obj], str]],
                 max_backoff: float = 10.0) -> None:
        self._transport = transport
        self._path = path
        self._list_all = list_all
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._objects: dict[str, Obj] = {}
        self._deleted: set[str] = set()
        """Names this process deleted whose DELETED event has not arrived: older events must not revive them."""
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._stream: WatchStream | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def get(self, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get(name)

    def items(self) -> list[Obj]:
        with self._lock:
            return [self._objects[name] for name in sorted(self._objects)]

    def put(self, obj: Obj) -> None:
        with self._lock:
            self._apply("MODIFIED", obj)
            self._deleted.discard(_name(obj))

    def remove(self, name: str) -> None:
        with self._lock:
            self._objects.pop(name, None)
            self._deleted.add(name)

    def close(self) -> None:
        """Stop watching. Does not wait: a watch still waiting for its first answer ends at its timeout."""
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def _apply(self, kind: str, obj: Obj) -> None:
        name = _name(obj)
        current = self._objects.get(name)
        if current is not None and _is_older(obj, current):
            return
        if kind == "DELETED":
            self._objects.pop(name, None)
            self._deleted.discard(name)
        elif name not in self._deleted:
            self._objects[name] = obj

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                self._list_and_watch()
                failures = 0
            except Gone:
                log.info("watch of %s expired; listing again", self._path)
            except StorageError as exc:
                self._synced.clear()
                if self._stopped.is_set():
                    return
                failures += 1
                delay = min(self._max_backoff, 0.05 * 2**failures) * random.uniform(0.5, 1.0)
                log.warning("watch of %s failed (%s); reads go to the API; retrying in %.1fs", self._path, exc, delay)
                self._stopped.wait(delay)

    def _list_and_watch(self) -> None:
        objects, version = self._list_all(self._path)
        with self._lock:
            self._objects = {_name(obj): obj for obj in objects}
            self._deleted.clear()
        self._synced.set()
        while not self._stopped.is_set():
            query = {"resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": WATCH_SECONDS}
            self._stream = self._transport.watch(self._path, query, read_timeout=WATCH_SECONDS + 30)
            for event in self._stream:
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(str(obj.get("message")))
                    raise StorageError(f"watch error: {obj.get('message')}")
                version = obj.get("metadata", {}).get("resourceVersion", version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    with self._lock:
                        self._apply(kind, obj)
            self._stream = None
