"""The objects of unwatched kinds this process last read or wrote, so that an update can start from one.

A refresh reads its token (GET) and then rotates it; without this the rotation would GET the same object again
before its PUT. The copy may be stale — another replica may have written since — which is safe because the PUT
carries the copy's resourceVersion: the API refuses a stale write with 409 and the update reads again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

Obj = dict[str, Any]

CAPACITY = 1024
"""Objects kept: enough for the requests in flight on one process, small enough to be no second cache."""


class RecentObjects:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._objects: OrderedDict[tuple[str, str], Obj] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, plural: str, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get((plural, name))

    def put(self, plural: str, obj: Obj) -> None:
        key = (plural, str(obj["metadata"]["name"]))
        with self._lock:
            self._objects[key] = obj
            self._objects.move_to_end(key)
            if len(self._objects) > self._capacity:
                self._objects.popitem(last=False)

    def forget(self, plural: str, name: str) -> None:
        with self._lock:
            self._objects.pop((plural, name), None)
