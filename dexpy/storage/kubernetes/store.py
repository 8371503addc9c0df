"""The `Storage` protocol on custom resources in one namespace."""

from __future__ import annotations

import builtins
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from dexpy.loopwork import waits
from dexpy.model import EXPIRING_KINDS, KEYS_KEY, Keys
from dexpy.storage import Conflict, Invalid, NotFound
from dexpy.storage.kubernetes.cache import WatchCache
from dexpy.storage.kubernetes.codec import JSON
from dexpy.storage.kubernetes.jsonvalues import MalformedObject
from dexpy.storage.kubernetes.kinds import KINDS, KindSpec, spec_of
from dexpy.storage.kubernetes.names import is_valid_name
from dexpy.storage.kubernetes.recent import RecentObjects
from dexpy.storage.kubernetes.transport import Transport

log = logging.getLogger(__name__)

R = TypeVar("R")
PAGE_SIZE = 500
UPDATE_ATTEMPTS = 25
_OBJECT_KEYS = ("apiVersion", "kind", "metadata")


class KubernetesStorage:
    def __init__(self, transport: Transport, namespace: str, *, watch: bool = True,
                 rng: random.Random | None = None, sleep: Callable[[float], None] = waits(time.sleep)) -> None:
        self.transport = transport
        self.namespace = namespace
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._warned: set[tuple[str, str]] = set()
        self._caches: dict[type, WatchCache] = {}
        self._recent = RecentObjects()
        if watch:
            for spec in KINDS.values():
                if spec.cached:
                    self._caches[spec.record] = WatchCache(transport, spec.path(namespace), self._list_all)
            for cache in self._caches.values():
                cache.start()

    def wait_synced(self, timeout: float) -> bool:
        """Wait for every cache's first list; False when one is not there within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        return all(cache.wait_synced(max(0.0, deadline - time.monotonic())) for cache in self._caches.values())

    # -- the protocol --------------------------------------------------------------------------------------

    def create(self, record: object) -> None:
        spec = spec_of(type(record))
        name = spec.name_for(record.key)  # type: ignore[attr-defined]
        if not is_valid_name(name):
            raise Invalid(f"{spec.kind} key {record.key!r} makes the object name {name!r}, which Kubernetes refuses")  # type: ignore[attr-defined]
        created = self.transport.request("POST", spec.path(self.namespace), body=spec.to_object(record, self.namespace))
        self._remember(spec, created)

    def get(self, kind: type[R], key: str) -> R:
        spec = spec_of(kind)
        name = self._name(spec, key)
        cache = self._caches.get(kind)
        if spec.miss_is_absent and cache is not None and cache.synced and cache.get(name) is None:
            raise NotFound(f"{spec.kind} {key!r} not found")
        return self._decode_as(spec, self._read(spec, name), key)

    stale_copies = True  # the watch cache lags other replicas' writes

    def get_possibly_stale(self, kind: type[R], key: str) -> R:
        spec = spec_of(kind)
        name = self._name(spec, key)
        obj, _ = self._local_or_fresh(spec, name, fresh=False)
        return self._decode_as(spec, obj, key)

    def get_many(self, kind: type[R], keys: Sequence[str]) -> dict[str, R]:
        """One `get` per key: each is answered from the watch cache where the kind has one."""
        found = {}
        for key in keys:
            try:
                found[key] = self.get(kind, key)
            except NotFound:
                continue
        return found

    def list(self, kind: type[R]) -> list[R]:
        spec = spec_of(kind)
        cache = self._caches.get(kind)
        objects = cache.items() if cache is not None and cache.synced else self._list_all(spec.path(self.namespace))[0]
        return [record for record in map(lambda obj: self._decode_or_warn(spec, obj), objects) if record is not None]

    def update(self, kind: type[R], key: str, updater: Callable[[R], R]) -> R:
        """Read-modify-write with the resourceVersion. The first attempt starts from this process's copy (the
        watch cache or the object last read or written) when it has one; that copy may be stale, so whatever
        the updater decides on it that is not confirmed — an error, or a change, by a successful PUT; no change,
        by the API holding the same resourceVersion — is decided again on the object read from the API."""
        spec = spec_of(kind)
        name = self._name(spec, key)
        confirming: JSON | None = None  # the API's object, read to confirm a copy that turned out stale
        for attempt in range(UPDATE_ATTEMPTS):
            obj, local = (confirming, False) if confirming else self._local_or_fresh(spec, name, fresh=attempt > 0)
            confirming = None
            current = self._decode_as(spec, obj, key)
            try:
                new = updater(current)
            except Exception:
                if local:
                    continue
                raise
            if type(new) is not kind or spec.name_for(new.key) != name or new.key != current.key:  # type: ignore[attr-defined]
                raise Invalid(f"an update of {spec.kind} {key!r} may not change its key or kind")
            body = spec.to_object(new, self.namespace)
            body = {**_unknown_fields(spec, obj, current), **body, "metadata": obj["metadata"]}
            if _payload(body) == _payload(obj):
                if local:
                    confirming = self._read_fresh(spec, name)  # NotFound when the API holds none
                    if _same_version(confirming, obj):
                        return current  # the copy is the API's object: its "nothing to change" stands
                    continue  # decided again on what was just read
                return spec.decode(obj)  # nothing changed: no write
            try:
                updated = self.transport.request("PUT", spec.path(self.namespace, name), body=body)
            except Conflict:
                if not local:  # a stale copy is no contention: read again at once
                    self._sleep(self._rng.uniform(0.5, 1.5) * min(0.1, 0.002 * 2**attempt))
                continue
            self._remember(spec, updated)
            return spec.decode(updated)
        raise Conflict(f"{spec.kind} {key!r} kept changing under {UPDATE_ATTEMPTS} attempts to update it")

    def delete(self, kind: type[R], key: str) -> None:
        spec = spec_of(kind)
        name = self._name(spec, key)
        if spec.hashed_name:
            self._decode_as(spec, self._read_fresh(spec, name), key)  # the name may be another's
        self.transport.request("DELETE", spec.path(self.namespace, name))
        self._recent.forget(spec.plural, name)
        self._cached(spec, lambda cache: cache.remove(name))

    def garbage_collect(self, now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind in EXPIRING_KINDS:
            spec = spec_of(kind)
            counts[kind.KIND] = 0  # type: ignore[attr-defined]
            for obj in self._items(spec.path(self.namespace)):
                record = self._decode_or_warn(spec, obj)
                if record is None or record.expiry >= now:
                    continue
                try:
                    self.transport.request("DELETE", spec.path(self.namespace, obj["metadata"]["name"]))
                except NotFound:
                    continue  # another replica collected it first
                counts[kind.KIND] += 1  # type: ignore[attr-defined]
        return counts

    def ping(self) -> None:
        """A GET of the signing keys from the API itself: a watch can stay open while every other request fails."""
        spec = spec_of(Keys)
        try:
            self._read_fresh(spec, self._name(spec, KEYS_KEY))
        except NotFound:
            pass  # the API answered

    def close(self) -> None:
        for cache in self._caches.values():
            cache.close()
        self.transport.close()

    # -- helpers -------------------------------------------------------------------------------------------

    def _name(self, spec: KindSpec, key: str) -> str:
        name = spec.name_for(key)
        if not is_valid_name(name):
            raise NotFound(f"no {spec.kind} {key!r}: it cannot be the key of a stored object")
        return name

    def _cached(self, spec: KindSpec, action: Callable[[WatchCache], None]) -> None:
        cache = self._caches.get(spec.record)
        if cache is not None:
            action(cache)

    def _remember(self, spec: KindSpec, obj: JSON) -> None:
        """Keep an object read from or written to the API: in the kind's watch cache, or with the recent ones."""
        cache = self._caches.get(spec.record)
        if cache is not None:
            cache.put(obj)
        else:
            self._recent.put(spec.plural, obj)

    def _read(self, spec: KindSpec, name: str) -> JSON:
        """The object from the synced watch cache of a cached kind, else from the API."""
        cache = self._caches.get(spec.record)
        obj = cache.get(name) if cache is not None and cache.synced else None
        if obj is None:  # not cached, or created elsewhere a moment ago and not yet seen by the watch
            obj = self._read_fresh(spec, name)
        return obj

    def _read_fresh(self, spec: KindSpec, name: str) -> JSON:
        obj: JSON = self.transport.request("GET", spec.path(self.namespace, name))
        self._remember(spec, obj)
        return obj

    def _local_or_fresh(self, spec: KindSpec, name: str, fresh: bool) -> tuple[JSON, bool]:
        """Unless `fresh`, this process's copy when it has one (possibly stale), else the API's; and which."""
        if not fresh:
            cache = self._caches.get(spec.record)
            if cache is None:
                local = self._recent.get(spec.plural, name)
            else:
                local = cache.get(name) if cache.synced else None
            if local is not None:
                return local, True
        return self._read_fresh(spec, name), False

    def _decode_as(self, spec: KindSpec, obj: JSON, key: str) -> Any:
        try:
            record = spec.decode(obj)
        except MalformedObject as exc:
            raise Invalid(f"{spec.kind} {obj['metadata'].get('name')!r} in namespace {self.namespace} is malformed "
                          f"({exc}); fix or delete it with kubectl") from exc
        if spec.hashed_name and record.key != key:
            raise NotFound(f"{spec.kind} {key!r} not found (its object name holds {record.key!r})")
        return record

    def _decode_or_warn(self, spec: KindSpec, obj: JSON) -> Any:
        try:
            return spec.decode(obj)
        except MalformedObject as exc:
            meta = obj.get("metadata", {})
            marker = (f"{spec.plural}/{meta.get('name')}", str(meta.get("resourceVersion")))
            if marker not in self._warned:
                self._warned.add(marker)
                log.warning("skipping malformed %s %s in namespace %s: %s", spec.kind, marker[0], self.namespace, exc)
            return None

    def _pages(self, path: str) -> Iterator[JSON]:
        """The list under `path`, one page of `PAGE_SIZE` objects at a time, following `continue` tokens."""
        query: dict[str, Any] = {"limit": PAGE_SIZE}
        while True:
            page: JSON = self.transport.request("GET", path, query=query)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query = {"limit": PAGE_SIZE, "continue": token}

    def _items(self, path: str) -> Iterator[JSON]:
        for page in self._pages(path):
            yield from page.get("items") or []

    def _list_all(self, path: str) -> tuple[builtins.list[JSON], str]:  # `list` here is the method above
        """Every object under `path` and the resourceVersion of the listing, for a watch to start from."""
        objects: list[JSON] = []
        version = ""
        for page in self._pages(path):
            objects.extend(page.get("items") or [])
            version = str((page.get("metadata") or {}).get("resourceVersion", version))
        return objects, version


def _same_version(a: JSON, b: JSON) -> bool:
    version = a["metadata"].get("resourceVersion")
    return version is not None and version == b["metadata"].get("resourceVersion")


def _payload(obj: JSON) -> JSON:
    return {key: value for key, value in obj.items() if key not in _OBJECT_KEYS}


def _unknown_fields(spec: KindSpec, obj: JSON, record: Any) -> JSON:
    """Fields of the stored object that dexpy does not write (e.g. from a newer Dex): kept through an update."""
    known = spec.encode(record)
    return {key: value for key, value in _payload(obj).items() if key not in known}

